"""A call id names one call for good (issue: two text calls with the same --call-id made the
second replay the first one's order and cancel it after it was confirmed and SMS-notified)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from core.vocabulary import AgentMode
from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.test_guided_cli import chat, no_llm_queue, order_by_chat
from tests.workflows.test_order_scenarios import orders_of_call
from workflows.client import CallIdInUse, CallSession
from workflows.models import CallStart

__all__ = ["no_llm_queue"]  # the module-scoped worker without an LLM, shared with the CLI tests


async def test_a_used_call_id_is_refused_and_the_first_order_stays_confirmed(
    calls: Calls, no_llm_queue: str, store_api: StoreApiServer, tmp_path: Path
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    code, out, err = await order_by_chat(calls, no_llm_queue, tmp_path, call_id)
    assert code == 0 and "итог звонка: order_confirmed" in out, (out, err)
    events = await calls.audit_events(call_id)

    # The same id again, as in the report: refused in one line, before any turn.
    code, out, err = await order_by_chat(calls, no_llm_queue, tmp_path, call_id)
    assert code != 0
    assert f"call id '{call_id}' was already used" in err and "Traceback" not in err
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert await calls.audit_events(call_id) == events, "the first call's trail is untouched"
    assert len(await calls.sms_of(call_id)) == 1
    runs = [w async for w in calls.client.list_workflows(f'WorkflowId = "{call_id}"')]
    assert len(runs) == 1

    # A running call's id is refused the same way (the SDK's own conflict error underneath).
    live = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED)
    with pytest.raises(CallIdInUse):
        await CallSession.start(
            calls.client,
            calls.settings.temporal_task_queue,
            CallStart(caller_number=NO_ORDERS.phone, source="test", agent=AgentMode.GUIDED),
            call_id=live.call_id,
        )
    await live.hang_up()
    await live.result()


async def test_keys_name_the_run_that_made_them(calls: Calls, store_api: StoreApiServer) -> None:
    """Idempotency and audit keys carry the run id, so no other run can ever replay them."""
    call = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED)
    for line in ("Хочу заказать гречку продел", "Две пачки", "Это всё", "Отмена, не надо"):
        await call.say(line)
    await call.hang_up()
    await call.result()
    run_id = (await call.handle.describe()).run_id
    audit_keys = [
        r["event_key"]
        for r in await calls.fetch(
            "SELECT event_key FROM bot.order_audit WHERE call_id = $1", call.call_id
        )
    ]
    assert audit_keys and all(f":{run_id}:" in key for key in audit_keys), audit_keys
    conn = await asyncpg.connect(store_api.database_url)
    try:
        store_keys = [
            r["key"]
            for r in await conn.fetch(
                "SELECT key FROM store.idempotency_keys WHERE key LIKE $1", f"{call.call_id}:%"
            )
        ]
    finally:
        await conn.close()
    assert len(store_keys) >= 2, store_keys  # the draft and its cancellation
    assert all(key.startswith(f"{call.call_id}:{run_id}:") for key in store_keys), store_keys


async def test_chat_refuses_bad_keys_and_call_ids_in_one_line(
    calls: Calls, no_llm_queue: str, tmp_path: Path
) -> None:
    script = tmp_path / "keys.txt"
    script.write_text("/press abc\n/press " + "1" * 40 + "\nНет, спасибо\n", "utf-8")
    call_id = f"call-{uuid.uuid4()}"
    code, out, err = await chat(
        calls, no_llm_queue, call_id, "--phone", NO_ORDERS.phone, "--script", str(script)
    )
    assert code == 0, err
    assert err.count("/press takes 1–20 keys from 0–9, * and #") == 2 and "Traceback" not in err
    assert "итог звонка:" in out  # the call went on after the bad lines and ended normally

    code, _, err = await chat(calls, no_llm_queue, "bad id with spaces", "--withheld")
    assert code == 2 and "Invalid value for '--call-id'" in err and "Traceback" not in err
