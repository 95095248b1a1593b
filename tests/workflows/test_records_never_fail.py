"""No audit or call-log write can fail a call (issue 12 item 7: a caller line with a NUL made
the call-log write fail with BotDataRejected and the whole CallWorkflow ended FAILED, its
post-call work never run). A write the database refuses for good is surfaced through
Attention=records_failed; the order is still confirmed and texted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus

from core.vocabulary import Attention, ErrorType
from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.test_order_scenarios import draft_and_readback, orders_of_call
from workflows.models import ATTENTION
from workflows.state import CallState

# The database refuses every row of the calls listed in `test_refused_calls`, as a CHECK
# constraint would: the real PostgreSQL error (23514) through the real activity code.
_REFUSE = """
CREATE TABLE IF NOT EXISTS public.test_refused_calls (call_id text PRIMARY KEY);
CREATE OR REPLACE FUNCTION public.test_refuse_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.test_refused_calls WHERE call_id = NEW.call_id) THEN
        RAISE EXCEPTION 'test: rows of call % are refused', NEW.call_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
"""
TABLES = ("bot.order_audit", "bot.call_turns", "bot.calls")


@pytest.fixture
async def refused_rows(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(_REFUSE)
        for table in TABLES:
            await conn.execute(
                f"CREATE TRIGGER test_refuse_rows BEFORE INSERT OR UPDATE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION public.test_refuse_rows()"
            )
        yield conn
    finally:
        for table in TABLES:
            await conn.execute(f"DROP TRIGGER IF EXISTS test_refuse_rows ON {table}")
        await conn.close()


async def test_refused_records_set_attention_and_the_order_is_still_confirmed_and_texted(
    calls: Calls, store_api: StoreApiServer, refused_rows: asyncpg.Connection
) -> None:
    call = await draft_and_readback(calls, NO_ORDERS.phone, [])
    await refused_rows.execute("INSERT INTO public.test_refused_calls VALUES ($1)", call.call_id)
    confirmed = await call.say("Да")
    assert confirmed.stage == "CONFIRMED"
    await call.hang_up()
    assert await call.result() == "order_confirmed"

    description = await call.handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert len(await calls.sms_of(call.call_id)) == 1, "post-call work ran: the SMS went out"

    assert description.typed_search_attributes.get(ATTENTION) == Attention.RECORDS_FAILED
    memo = await description.memo()
    assert memo["attention"] == Attention.RECORDS_FAILED
    assert memo["last_error"] == ErrorType.BOT_DATA_REJECTED
    state = await call.handle.query("state", result_type=CallState)
    assert state.records_failed >= 3  # at least the confirmation's audit, its turn, the end
    events = await calls.audit_events(call.call_id)
    assert "order_confirmed" not in events and "sms_sent" not in events, "really refused"
    [row] = await calls.fetch("SELECT ended_at FROM bot.calls WHERE call_id = $1", call.call_id)
    assert row["ended_at"] is None
    await keep_history(call, "records_refused_order_still_confirmed")
