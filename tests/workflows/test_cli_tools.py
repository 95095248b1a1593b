"""`voiceorder chat --script` and `voiceorder history export` against a real worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from store_api.seed.personas import NO_ORDERS
from tests.support.payload_keys import key_env
from tests.workflows.conftest import Calls
from tests.workflows.scripts import pick_product, say, search


def cli_env(calls: Calls) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": calls.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": calls.client.namespace,
        "TEMPORAL_TASK_QUEUE": calls.settings.temporal_task_queue,
        "DATABASE_URL": calls.database_url,
        "LOG_FORMAT": "json",
        # The starter decides LLM or guided from its own settings: these calls use the LLM.
        "OPENAI_BASE_URL": calls.settings.openai_base_url or "",
        "AGENT": "auto",
        **key_env(),
    }


async def voiceorder(calls: Calls, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        *args,
        env=cli_env(calls),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_chat_script_talks_through_the_real_workflow(calls: Calls, tmp_path: Path) -> None:
    call_id = f"call-{uuid.uuid4()}"
    calls.llm.script(call_id, [search("гречка"), pick_product(1), say("Что-нибудь ещё?")])
    script = tmp_path / "call.txt"
    script.write_text("# a caller who changes their mind\nГречку, одну пачку\n/hangup\n", "utf-8")
    code, out, err = await voiceorder(
        calls, "chat", "--phone", NO_ORDERS.phone, "--script", str(script), "--call-id", call_id
    )
    assert code == 0, err
    assert f"/workflows/{call_id}" in out, "prints the Web UI link"
    assert "бот> Здравствуйте, Дмитрий" in out
    assert "вы> Гречку, одну пачку" in out and "бот> Что-нибудь ещё?" in out
    assert "итог звонка: order_cancelled" in out
    assert "order_cancelled" in await calls.audit_events(call_id)


async def test_history_export_writes_replayable_json(calls: Calls, tmp_path: Path) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    await call.hang_up()
    await call.result()
    target = tmp_path / "call.json"
    code, _, err = await voiceorder(calls, "history", "export", call.call_id, "-o", str(target))
    assert code == 0, err
    events = json.loads(target.read_text("utf-8"))["events"]
    assert events[0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    code, _, err = await voiceorder(calls, "history", "export", "call-does-not-exist")
    assert code != 0 and "cannot export call-does-not-exist" in err
