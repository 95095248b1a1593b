"""S4–S9: placing, changing and cancelling orders through the real workflow and Store API."""

from __future__ import annotations

import httpx

from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search


async def orders_of_call(store_api: StoreApiServer, phone: str, call_id: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=store_api.base_url, headers=store_api.auth) as api:
        found = (await api.get("/orders/search", params={"phone": phone, "limit": 20})).json()
        orders = [(await api.get(f"/orders/{o['id']}")).json() for o in found["items"]]
    return [o for o in orders if o["call_id"] == call_id]


async def test_s4_new_order_with_courier_delivery(calls: Calls, store_api: StoreApiServer) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            say("Есть гречка ядрица. Сколько пачек?"),
            pick_product(2),
            say("Доставить курьером или заберёте сами?"),
            Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
            Reply.tool("confirm_order"),
            Reply.tool("confirm_order"),
            Reply.tool("end_call", {"reason": "заказ оформлен"}),
        ],
    )
    assert "Дмитрий" in call.last_reply.text  # type: ignore[union-attr]
    assert (await call.say("Хочу заказать гречку")).stage == "LISTENING"
    assert (await call.say("Две пачки")).stage == "DRAFTING"
    readback = await call.say("Курьером: Москва, Тверская семь, квартира двенадцать")
    assert readback.stage == "AWAITING_CONFIRMATION"
    assert "Тверская" in readback.text and readback.sentences[-1].endswith("?")
    confirmed = await call.say("Да, всё верно")
    assert confirmed.stage == "CONFIRMED" and "оформлен" in confirmed.text
    goodbye = await call.say("Нет, спасибо, это всё")
    assert goodbye.action == "hangup"
    assert await call.result() == "order_confirmed"

    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    order = orders[0]
    assert order["items"][0]["quantity"] == 2 and order["delivery"]["type"] == "courier"
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
    assert len(sms) == 1 and sms[0][0] == NO_ORDERS.phone and order["number"] in sms[0][1]
    assert len(sms[0][1]) <= 134
    calls.llm.assert_consumed(call.call_id)
