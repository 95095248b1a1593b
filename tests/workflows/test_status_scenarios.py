"""S1–S3, S12–S14: order status, whose data, withheld CallerID, injection, the operator."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from store_api.seed.personas import FOREIGN_ORDER_NUMBER, MANY_ACTIVE, ONE_ACTIVE
from tests.support.fake_llm import Reply, last_tool_result
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import COURIER_TVERSKAYA


def tool_results(request: dict[str, Any], name: str) -> list[str]:
    ids = {
        call["id"]
        for message in request["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or []
        if call["function"]["name"] == name
    }
    return [m["content"] for m in request["messages"] if m.get("tool_call_id") in ids]


async def test_s1_known_caller_hears_the_status_of_the_one_active_order(calls: Calls) -> None:
    number = ONE_ACTIVE.active_orders[0]
    call = await calls.start(
        ONE_ACTIVE.phone,
        [Reply.tool("get_order_status", {}), Reply.text("Ваш заказ в пути, приедет завтра.")],
    )
    greeting = call.last_reply
    assert greeting is not None and "Игорь" in greeting.text
    assert "передан в доставку" in greeting.text, "the greeting mentions the active order"
    await call.say("Где мой заказ?")
    await call.hang_up()
    await call.result()
    result = json.loads(tool_results(calls.llm.requests(call.call_id)[-1], "get_order_status")[0])
    assert [o["number"] for o in result["active_orders"]] == [number]
    assert "say" in result["active_orders"][0]
    assert "order_status_viewed" in await calls.audit_events(call.call_id)
    await keep_history(call, "s1_status_one_order")


async def test_s2_several_orders_listed_then_the_chosen_one(calls: Calls) -> None:
    def second(request: dict[str, Any]) -> Reply:
        orders = last_tool_result(request, "get_order_status")["active_orders"]
        return Reply.tool("get_order_status", {"order_number": orders[1]["number"]})

    call = await calls.start(
        MANY_ACTIVE.phone,
        [
            Reply.tool("get_order_status", {}),
            Reply.text("У вас три активных заказа. О каком рассказать?"),
            Reply.dynamic(second),
            Reply.text("Второй заказ собирается на складе."),
        ],
    )
    await call.say("Какие у меня заказы?")
    await call.say("Второй")
    await call.hang_up()
    await call.result()
    last = calls.llm.requests(call.call_id)[-1]
    listed = json.loads(tool_results(last, "get_order_status")[0])
    assert listed["count"] == 3
    chosen = json.loads(tool_results(last, "get_order_status")[1])
    assert chosen["found"] is True and chosen["number"] == listed["active_orders"][1]["number"]
    events = await calls.audit_events(call.call_id)
    assert events.count("order_status_viewed") >= 4
    await keep_history(call, "s2_status_several_orders")


async def test_s3_another_customers_number_is_answered_as_not_found(calls: Calls) -> None:
    call = await calls.start(
        MANY_ACTIVE.phone,
        [
            Reply.tool("get_order_status", {"order_number": FOREIGN_ORDER_NUMBER}),
            Reply.text("Не нашла заказ с таким номером на ваш номер телефона."),
            Reply.tool("get_order_status", {"order_number": "999999"}),
            Reply.text("Не нашла заказ с таким номером на ваш номер телефона."),
        ],
    )
    await call.say(f"Что с заказом {FOREIGN_ORDER_NUMBER}?")
    await call.say("А заказ девятьсот девяносто девять девятьсот девяносто девять?")
    await call.hang_up()
    await call.result()
    results = tool_results(calls.llm.requests(call.call_id)[-1], "get_order_status")
    assert results[0] == results[1], "a foreign order looks exactly like a missing one"
    assert "status" not in json.loads(results[0])
    events = await calls.audit_events(call.call_id)
    assert events.count("order_lookup_denied") == 2
    await keep_history(call, "s3_foreign_order_number")


async def test_s12_withheld_caller_needs_number_and_phone_for_a_status(calls: Calls) -> None:
    number = ONE_ACTIVE.active_orders[0]
    call = await calls.start(
        None,
        [
            Reply.tool("get_order_status", {"order_number": number}),
            Reply.text("Назовите, пожалуйста, номер телефона, на который оформлен заказ."),
            Reply.tool("set_contact_phone", {"phone": "8 903 111-22-33"}),
            Reply.tool("get_order_status", {"order_number": number}),
            Reply.text("Ваш заказ передан в доставку."),
        ],
    )
    first = await call.say(f"Где мой заказ {number}?")
    assert "телефон" in first.text
    readback = await call.say("Восемь девятьсот три один один один двадцать два тридцать три")
    assert readback.sentences[-1] == "Верно?"
    await call.say("Да")
    await call.hang_up()
    await call.result()
    requests = calls.llm.requests(call.call_id)
    assert "set_contact_phone" in [t["function"]["name"] for t in requests[0]["tools"]]
    results = tool_results(requests[-1], "get_order_status")
    assert "error" in json.loads(results[0]), "no status before the phone is confirmed"
    assert json.loads(results[1])["found"] is True
    assert "order_status_viewed" in await calls.audit_events(call.call_id)
    await keep_history(call, "s12_withheld_status")


async def test_s14_caller_asks_for_a_human(calls: Calls) -> None:
    call = await calls.start(
        ONE_ACTIVE.phone, [Reply.tool("transfer_to_operator", {"reason": "просит оператора"})]
    )
    reply = await call.say("Соедините меня с человеком")
    assert reply.action == "transfer" and reply.stage == "TRANSFERRED"
    assert await call.result() == "transferred"
    assert "call_transferred" in await calls.audit_events(call.call_id)
    await keep_history(call, "s14_transfer_on_request")


async def test_s14_dtmf_zero_transfers_without_the_llm(calls: Calls) -> None:
    call = await calls.start(ONE_ACTIVE.phone, [])
    reply = await call.press("0")
    assert reply.action == "transfer"
    assert await call.result() == "transferred"
    assert calls.llm.requests(call.call_id) == []
    assert "call_transferred" in await calls.audit_events(call.call_id)
    await keep_history(call, "s14_transfer_dtmf")


async def test_s12_withheld_caller_orders_with_a_confirmed_phone(
    calls: Calls, store_api: StoreApiServer
) -> None:
    def draft(request: dict[str, Any]) -> Reply:
        items = [i for i in last_tool_result(request, "search_products")["items"] if i["in_stock"]]
        return Reply.tool(
            "create_order_draft", {"items": [{"product_id": items[0]["product_id"], "quantity": 1}]}
        )

    phone = "+79857770011"
    call = await calls.start(
        None,
        [
            Reply.tool("search_products", {"query": "гречка"}),
            Reply.dynamic(draft),
            Reply.text("Назовите номер телефона для SMS."),
            Reply.tool("set_contact_phone", {"phone": "8 985 777-00-11"}),
            Reply.dynamic(draft),
            Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
            Reply.tool("confirm_order"),  # the read-back; its plain "да" the workflow confirms
        ],
    )
    asked = await call.say("Гречку, одну пачку")
    assert asked.stage == "LISTENING", "no draft without a phone for the SMS"
    readback = await call.say(
        "Восемь девятьсот восемьдесят пять семьсот семьдесят семь ноль ноль одиннадцать"
    )
    assert "девятьсот восемьдесят пять" in readback.text and readback.sentences[-1] == "Верно?"
    order_readback = await call.say("Да")
    assert order_readback.stage == "AWAITING_CONFIRMATION"
    assert (await call.say("Да")).stage == "CONFIRMED"
    await call.hang_up()
    assert await call.result() == "order_confirmed"
    sms = await calls.sms_of(call.call_id)
    assert [p for p, _ in sms] == [phone], "the SMS goes to the number read back"
    async with httpx.AsyncClient(base_url=store_api.base_url, headers=store_api.auth) as api:
        found = (await api.get("/orders/search", params={"phone": phone})).json()["items"]
    assert [o["status"] for o in found] == ["confirmed"]
    await keep_history(call, "s12_withheld_new_order")


async def test_the_turn_validator_refuses_empty_long_and_late_turns(calls: Calls) -> None:
    call = await calls.start(ONE_ACTIVE.phone, [])
    for text in ("", "   ", "а" * 1001):
        with pytest.raises(WorkflowUpdateFailedError):
            await call.say(text)
    await call.hang_up()
    await call.result()
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await call.say("Алло?")
    # A refused turn leaves no trace in the history.
    history = await call.handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 1, "only the greeting was accepted"
