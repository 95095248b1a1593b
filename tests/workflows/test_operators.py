"""Operators: stuck calls get Attention, show up in `voiceorder ops list`, and are fixed
through validated, audited updates (`ops retry`, `ops cancel`, `ops resend`)."""

from __future__ import annotations

import asyncio

from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.test_cli_tools import voiceorder
from tests.workflows.test_order_scenarios import draft_and_readback, orders_of_call
from tests.workflows.test_outage_scenarios import wait_listed
from workflows.client import CallSession
from workflows.state import CallState

STUCK = 'WorkflowId = "{}" AND CallStage = "CONFIRMING" AND Attention = "store_unavailable"'


async def ops(calls: Calls, *args: str) -> tuple[int, str]:
    code, out, err = await voiceorder(calls, "ops", *args)
    return code, out + err


async def stuck_call(calls: Calls, store_api: StoreApiServer) -> CallSession:
    """A call whose confirmation the Store API keeps refusing with 503."""
    call = await draft_and_readback(calls, NO_ORDERS.phone, [], attention_after_s=1)
    await store_api.set_faults(error_rate=1.0, path_glob="/orders/*/confirm")
    assert (await call.say("Да")).stage == "CONFIRMING"
    await call.hang_up()
    await wait_listed(calls.client, STUCK.format(call.call_id))
    return call


async def wait_for_round(call: CallSession, rounds: int, *, within_s: float = 60) -> None:
    """Until the postponed confirmation has failed `rounds` times and waits for the next."""
    async with asyncio.timeout(within_s):
        while True:
            state = await call.handle.query("state", result_type=CallState)
            job = state.confirm_job
            if job is not None and job.rounds >= rounds:
                pending = (await call.handle.describe()).raw_description.pending_activities
                if not pending:
                    return
            await asyncio.sleep(0.2)


async def operator_events(calls: Calls, call_id: str) -> list[tuple[str, str]]:
    rows = await calls.fetch(
        "SELECT event, actor FROM bot.order_audit WHERE call_id = $1 AND actor LIKE"
        " 'operator:%' ORDER BY at, id",
        call_id,
    )
    return [(r["event"], r["actor"]) for r in rows]


async def test_stuck_call_is_listed_and_retried_by_an_operator(
    calls: Calls, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    call = await stuck_call(calls, store_api)
    calm = await calls.start(NO_ORDERS.phone)  # running, nothing wrong: not an operator's job
    code, listed = await ops(calls, "list")
    assert code == 0, listed
    assert calm.call_id not in listed
    await calm.hang_up()
    row = next(line for line in listed.splitlines() if call.call_id in line)
    assert "CONFIRMING" in row and "store_unavailable" in row and "StoreUnavailable" in row
    assert NO_ORDERS.phone not in listed and "+7985***8899" in row

    code, shown = await ops(calls, "show", call.call_id)
    assert code == 0 and "pending   confirm order" in shown and "attention_set" in shown

    # Clear the fault only during a long pause between rounds (8 s or more), so the
    # workflow's own next round cannot beat the operator's retry on a slow machine.
    await wait_for_round(call, 3)
    await store_api.clear_faults()
    code, said = await ops(calls, "retry", call.call_id, "--operator", "Ирина")
    assert code == 0, said
    assert await asyncio.wait_for(call.result(), 60) == "order_confirmed"
    assert len(await calls.sms_of(call.call_id)) == 1
    await wait_listed(calls.client, f'WorkflowId = "{call.call_id}" AND Attention = ""')
    assert ("operator_action", "operator:Ирина") in await operator_events(calls, call.call_id)
    await keep_history(call, "ops_retry_stuck_confirmation")


async def test_operator_cancels_a_stuck_order(
    calls: Calls, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    call = await stuck_call(calls, store_api)
    code, said = await ops(
        calls, "cancel", call.call_id, "--operator", "Пётр", "--reason", "клиент передумал"
    )
    assert code == 0, said
    assert await asyncio.wait_for(call.result(), 60) == "cancelled_by_operator"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["cancelled"]
    events = await operator_events(calls, call.call_id)
    assert ("operator_action", "operator:Пётр") in events
    assert ("order_cancelled", "operator:Пётр") in events
    await keep_history(call, "ops_cancel_stuck_order")


async def test_an_update_that_does_not_apply_is_refused_without_history(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    code, said = await ops(calls, "resend", call.call_id, "--operator", "Ирина")
    assert code != 0 and "never confirmed" in said
    code, said = await ops(calls, "retry", call.call_id, "--operator", "Ирина")
    assert code != 0 and "Nothing to retry" in said
    code, said = await ops(calls, "cancel", call.call_id, "--operator", "Ирина", "--reason", "x")
    assert code != 0 and "no order to cancel" in said
    history = await call.handle.fetch_history()
    updates = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert updates == ["greet"], "a refused update leaves no history event"
    assert await operator_events(calls, call.call_id) == []
    await call.hang_up()
    await call.result()


async def test_ops_show_of_an_unknown_call_fails_clearly(
    calls: Calls,
) -> None:
    code, said = await ops(calls, "show", "call-no-such-call")
    assert code != 0 and "not found" in said.lower()
