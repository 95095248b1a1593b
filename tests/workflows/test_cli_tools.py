"""`voiceorder chat --script` and `voiceorder history export` against a real worker."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.history_payloads import SDK_BOOKKEEPING, payload_paths, payloads_in
from core.payload_keys import key_entry
from store_api.seed.personas import NO_ORDERS
from tests.support.payload_keys import TEST_DATA_CONVERTER, TEST_KEY_ID, key_env
from tests.workflows.conftest import Calls
from tests.workflows.scripts import pick_product, say, search
from workers.worker import WORKFLOWS, workflow_runner


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


async def voiceorder(
    calls: Calls, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        *args,
        env=cli_env(calls) | (env or {}),
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


def exported_history(exported: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json("x", exported.read_text("utf-8"))


def encodings(exported: Path) -> set[str]:
    history = exported_history(exported)
    return {
        p.metadata["encoding"].decode()
        for where, p in payload_paths(History(events=history.events))
        if SDK_BOOKKEEPING.search(where) is None
    }


async def replays(exported: Path) -> bool:
    history = exported_history(exported)
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=TEST_DATA_CONVERTER, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure is None


async def test_history_export_writes_replayable_json(calls: Calls, tmp_path: Path) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    await call.hang_up()
    await call.result()
    target = tmp_path / "call.json"
    code, _, err = await voiceorder(calls, "history", "export", call.call_id, "-o", str(target))
    assert code == 0, err
    events = json.loads(target.read_text("utf-8"))["events"]
    assert events[0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    assert "binary/encrypted" not in encodings(target), "decrypted with the configured keys"
    assert NO_ORDERS.phone in decoded_text(target)
    stored = tmp_path / "stored.json"
    args = ("history", "export", call.call_id, "--as-stored", "-o", str(stored))
    code, _, err = await voiceorder(calls, *args)
    assert code == 0, err
    assert encodings(stored) == {"binary/encrypted"}
    assert await replays(target) and await replays(stored)
    code, _, err = await voiceorder(calls, "history", "export", "call-does-not-exist")
    assert code != 0 and "cannot export call-does-not-exist" in err


async def test_history_export_with_the_wrong_key_names_the_key(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    await call.hang_up()
    await call.result()
    other = key_entry("someone-elses", bytes(32))
    code, out, err = await voiceorder(
        calls, "history", "export", call.call_id, env={"PAYLOAD_KEYS": other}
    )
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"Error: cannot decrypt {call.call_id}: payload encrypted with key id "
        f"'{TEST_KEY_ID}', which is not configured (PAYLOAD_KEYS has: someone-elses); add "
        "that key to decrypt it (or export it with --as-stored)"
    ]


def decoded_text(exported: Path) -> str:
    history = exported_history(exported)
    return "\n".join(
        p.data.decode("utf-8", "replace") for p in payloads_in(History(events=history.events))
    )


async def test_ops_with_the_wrong_key_says_which_key_it_needs(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    other = key_entry("someone-elses", bytes(32))
    code, _, err = await voiceorder(calls, "ops", "show", call.call_id, env={"PAYLOAD_KEYS": other})
    assert code == 1
    assert err.strip() == (
        f"Error: cannot decrypt what Temporal holds: payload encrypted with key id "
        f"'{TEST_KEY_ID}', which is not configured (PAYLOAD_KEYS has: someone-elses); add that "
        "key to decrypt it (PAYLOAD_KEYS, PAYLOAD_KEYS_FILE)"
    )
    await call.hang_up()
    await call.result()
