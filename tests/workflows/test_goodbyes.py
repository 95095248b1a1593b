"""The caller can close the conversation at any question (issue 11, item 7): "до свидания",
"мне пора", "всё, спасибо" end the call politely in both agents — never taken for a product
or a street — and post-call work runs as usual (an unconfirmed draft is cancelled)."""

from __future__ import annotations

from core.vocabulary import Action, AgentMode, CallOutcome, Stage
from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import pick_product, say, search
from tests.workflows.test_guided_scenarios import talk
from tests.workflows.test_order_scenarios import orders_of_call


async def test_guided_goodbye_when_asked_for_a_product(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED)
    asked = await talk(call, "Хочу сделать заказ")
    assert "товар" in asked.text.lower(), asked
    goodbye = await call.say("До свидания")
    assert goodbye.action is Action.HANGUP and "До свидания" in goodbye.text
    assert "свидани" not in " ".join(goodbye.sentences[:-1]).lower()  # no product search
    assert await call.result() == CallOutcome.COMPLETED
    assert calls.llm.requests(call.call_id) == []
    await keep_history(call, "goodbye_guided_at_product")


async def test_guided_closing_words_at_the_delivery_question_cancel_the_draft(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED)
    asked = await talk(call, "Хочу заказать гречку продел", "Две пачки", "Это всё")
    assert asked.stage is Stage.DRAFTING and "курьером" in asked.text, asked
    goodbye = await call.say("Всё, спасибо")
    assert goodbye.action is Action.HANGUP
    assert await call.result() == CallOutcome.ORDER_CANCELLED
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["cancelled"]
    assert "order_cancelled" in await calls.audit_events(call.call_id)
    await keep_history(call, "goodbye_guided_at_delivery")


async def test_llm_goodbye_mid_order_needs_no_model_and_cancels_the_draft(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [search("гречка"), pick_product(1), say("Доставить курьером или заберёте сами?")],
        agent=AgentMode.LLM,
    )
    asked = await call.say("Гречку, одну пачку")
    assert asked.stage is Stage.DRAFTING
    asked_before = len(calls.llm.requests(call.call_id))
    goodbye = await call.say("Ой, мне пора, до свидания")
    assert goodbye.action is Action.HANGUP and "До свидания" in goodbye.text
    assert len(calls.llm.requests(call.call_id)) == asked_before, "the model was not asked"
    assert await call.result() == CallOutcome.ORDER_CANCELLED
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["cancelled"]
    await keep_history(call, "goodbye_llm_mid_order")
