"""Our own tools take hostile text too (issue 12 item 7): `voiceorder chat --script` with
control characters, bytes that are not UTF-8 and terminal escape sequences ends normally,
shows only printable text, and the call it placed completes."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from store_api.seed.personas import NO_ORDERS
from tests.workflows.conftest import Calls
from tests.workflows.scripts import say
from tests.workflows.test_cli_tools import voiceorder

SCRIPT = (
    b"\x00\x01\x02 <script>alert(1)</script>\xe2\x80\xa6\n"  # the report's line
    b"\xff\xfe not UTF-8 at all\n"
    b"\x1b]0;pwned\x07\x1b[31m \xd0\xba\xd1\x80\xd0\xb0\xd1\x81\xd0\xbd\xd1\x8b\xd0\xb9\n"
    b"\x00\x00\x00\n"  # nothing but controls: refused as empty, in one line
    b"/hangup\n"
)


async def test_chat_with_control_characters_in_the_script_ends_normally(
    calls: Calls, tmp_path: Path
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    calls.llm.script(call_id, [say("Слушаю \x1b[2J вас."), say("Слушаю."), say("Слушаю.")])
    script = tmp_path / "t.txt"
    script.write_bytes(SCRIPT)
    code, out, err = await voiceorder(
        calls, "chat", "--phone", NO_ORDERS.phone, "--script", str(script), "--call-id", call_id
    )
    assert code == 0, err
    assert "Traceback" not in err
    assert "вы> <script>alert(1)</script>…" in out
    assert "вы> \ufffd\ufffd not UTF-8 at all" in out
    assert "бот> Слушаю , два жи вас." in out, "the escape is gone, the rest read for TTS"
    assert not any(ch in out for ch in "\x00\x01\x02\x07\x1b"), "only printable text is shown"
    assert err.count("звонок не принял реплику") == 1 and "empty utterance" in err
    assert "итог звонка: hung_up" in out

    handle = calls.client.get_workflow_handle(call_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    texts = [
        r["caller_text"]
        for r in await calls.fetch(
            "SELECT caller_text FROM bot.call_turns WHERE call_id = $1 ORDER BY turn_no", call_id
        )
    ]
    assert texts[0] == "<script>alert(1)</script>…", "cleaned at the update boundary"
    assert len(texts) == 3
