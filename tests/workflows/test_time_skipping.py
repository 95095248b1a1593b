"""Time-dependent behaviour on a server whose clock the test skips (Temporal time skipping).

A lost edge is noticed after ten minutes of silence, and a confirmation keeps retrying
through hours of Store API outage — here in seconds of real time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from core.settings import Settings
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.servers import StoreApiServer
from tests.support.temporal import temporal_time_skipping_server
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search
from workers.worker import activity_set, build_worker
from workflows.models import ATTENTION
from workflows.state import CallState


@pytest.fixture(scope="module")
async def skipping_calls(
    call_settings: Settings, fake_llm: FakeLLM, database_url: str
) -> AsyncIterator[Calls]:
    settings = call_settings.model_copy(
        update={"temporal_task_queue": f"skip-{uuid.uuid4().hex[:8]}"}
    )
    async with (
        temporal_time_skipping_server() as env,
        activity_set(settings) as activities,
        build_worker(env.client, settings, activities, sandboxed=True),
    ):
        yield Calls(env.client, settings, fake_llm, database_url)


async def rounds_so_far(call_client: Client, call_id: str) -> int:
    state = await call_client.get_workflow_handle(call_id).query("state", result_type=CallState)
    return state.confirm_job.rounds if state.confirm_job else -1


async def test_r5_a_lost_edge_ends_the_call_after_ten_quiet_minutes(
    skipping_calls: Calls,
) -> None:
    call = await skipping_calls.start(
        NO_ORDERS.phone, [search("гречка"), pick_product(1), say("Что-нибудь ещё?")]
    )
    assert (await call.say("Гречку, одну")).stage == "DRAFTING"
    # No hang-up ever arrives: the edge died.
    assert await asyncio.wait_for(call.result(), 120) == "edge_lost"
    events = await skipping_calls.audit_events(call.call_id)
    assert "order_cancelled" in events and "attention_set" in events
    attributes = (await call.handle.describe()).typed_search_attributes
    assert attributes.get(ATTENTION) == "edge_lost"
    await keep_history(call, "r5_edge_lost")


async def test_s10_confirmation_retries_through_hours_of_outage(
    skipping_calls: Calls, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    calls = skipping_calls
    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            pick_product(1),
            Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
            Reply.tool("confirm_order"),  # the read-back; its plain "да" the workflow confirms
        ],
        attention_after_s=300,
    )
    assert (await call.say("Гречку, курьером на Тверскую")).stage == "AWAITING_CONFIRMATION"
    await store_api.set_faults(error_rate=1.0, path_glob="/orders/*/confirm")
    assert (await call.say("Да")).stage == "CONFIRMING"
    await call.hang_up()
    async with asyncio.timeout(180):
        while await rounds_so_far(calls.client, call.call_id) < 22:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    await store_api.clear_faults()
    assert await asyncio.wait_for(call.result(), 120) == "order_confirmed"
    history = await call.handle.fetch_history()
    started, ended = history.events[0].event_time, history.events[-1].event_time
    hours = (ended.ToDatetime() - started.ToDatetime()).total_seconds() / 3600
    assert hours >= 2, f"the outage lasted {hours:.1f} h of workflow time"
    assert len(await calls.sms_of(call.call_id)) == 1
    events = await calls.audit_events(call.call_id)
    assert events.index("attention_set") < events.index("order_confirmed")
    assert "attention_cleared" in events
    await keep_history(call, "s10_outage_for_hours")


# Silence needs no clock in the workflow: the edge measures it and sends `caller_silent`.
async def test_three_silences_end_the_call_politely(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [])
    first = await call.silence()
    assert first.action == "continue" and "слышите" in first.text
    assert (await call.silence()).action == "continue"
    last = await call.silence()
    assert last.action == "hangup"
    assert await call.result() == "no_response"
    await keep_history(call, "silence_three_times")
