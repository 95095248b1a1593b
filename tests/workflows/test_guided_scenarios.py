"""The dialog scenarios of dialog.md through the real workflow with the guided agent (no LLM):
calls started with agent="guided"; the fake LLM must never be asked."""

from __future__ import annotations

from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import pick_product, say, search
from tests.workflows.test_order_scenarios import orders_of_call
from voiceorder.guided import lines
from workflows.state import CallState


async def test_guided_s4_courier_order(calls: Calls, store_api: StoreApiServer) -> None:
    call = await calls.start(NO_ORDERS.phone, agent="guided")
    greeting = call.last_reply
    assert greeting is not None and "Дмитрий" in greeting.text
    assert "оформить новый" in greeting.text, "a guided call names what it can do"
    turns = [
        "Хочу заказать гречку",
        "Первую",
        "Две пачки",
        "Это всё",
        "Курьером",
        "Москва, Тверская семь, квартира двенадцать",
        "Завтра",
    ]
    replies = []
    for line in turns:
        replies.append(await call.say(line))
    readback = replies[-1]
    assert readback.stage == "AWAITING_CONFIRMATION", readback
    assert "Тверск" in readback.text and "Всё верно?" in readback.text
    confirmed = await call.say("Да, всё верно")
    assert confirmed.stage == "CONFIRMED" and "оформлен" in confirmed.text
    goodbye = await call.say("Нет, спасибо")
    assert goodbye.action == "hangup"
    assert await call.result() == "order_confirmed"

    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert orders[0]["items"][0]["quantity"] == 2
    assert orders[0]["delivery"]["type"] == "courier"
    events = await calls.audit_events(call.call_id)
    for event in (
        "order_draft_created",
        "order_delivery_set",
        "order_readback_spoken",
        "order_confirmed",
        "sms_sent",
    ):
        assert event in events, (event, events)
    sms = await calls.sms_of(call.call_id)
    assert len(sms) == 1 and orders[0]["number"] in sms[0][1]
    assert calls.llm.requests(call.call_id) == []
    await keep_history(call, "guided_s4_courier_order")


async def test_llm_failing_mid_call_switches_to_guided_and_the_order_completes(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            pick_product(2),
            say("Доставить курьером или заберёте сами?"),
        ],
        agent="auto",
    )
    asked = await call.say("Две пачки гречки")
    assert asked.stage == "DRAFTING" and "курьером" in asked.text
    calls.llm.fail_all(503)
    try:
        switched = await call.say("Курьером")
    finally:
        calls.llm.recover()
    assert switched.sentences[0] == lines.SWITCHED, "the caller is told"
    assert "адрес" in switched.text and switched.stage == "DRAFTING"
    state = await call.handle.query("state", result_type=CallState)
    assert state.agent_mode == "guided" and state.agent_switch_reason == "LlmUnavailable"
    asked_before = len(calls.llm.requests(call.call_id))

    assert (await call.say("Москва, улица Тверская, дом семь")).stage == "DRAFTING"
    readback = await call.say("Как можно скорее")
    assert readback.stage == "AWAITING_CONFIRMATION", readback
    assert (await call.say("Да")).stage == "CONFIRMED"
    metadata = await call.handle.query("__temporal_workflow_metadata")
    assert "agent: guided (switched from the LLM: `LlmUnavailable`)" in str(metadata)
    memo = await (await call.handle.describe()).memo()
    assert memo.get("agent_mode") == "guided"
    await call.hang_up()
    assert await call.result() == "order_confirmed"

    assert len(calls.llm.requests(call.call_id)) == asked_before, "no LLM after the switch"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert orders[0]["items"][0]["quantity"] == 2
    events = await calls.audit_events(call.call_id)
    assert "agent_mode_switched" in events and "order_confirmed" in events
    assert events.index("agent_mode_switched") < events.index("order_confirmed")
    assert len(await calls.sms_of(call.call_id)) == 1
    await keep_history(call, "guided_switch_from_llm_mid_call")
