"""Long calls hand over to a fresh run (continue-as-new) without losing anything."""

from __future__ import annotations

import asyncio

from core.vocabulary import AgentMode, Stage
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply, last_tool_result
from tests.workflows.call_state import stage_reached
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import COURIER_TVERSKAYA, pick_product, say, search


async def test_an_order_spanning_several_runs_completes(calls: Calls) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            pick_product(1),
            say("Как доставить?"),
            Reply.tool("update_order_delivery", COURIER_TVERSKAYA),
            Reply.tool("confirm_order"),  # the read-back; its plain "да" the workflow confirms
            say("Есть, ультрапастеризованное. Что-нибудь ещё?"),
        ],
        turns_per_run=2,
    )
    first_run = (await call.handle.describe()).run_id
    assert (await call.say("Гречку, одну")).stage == "DRAFTING"
    assert (await call.say("Курьером на Тверскую семь")).stage == "AWAITING_CONFIRMATION"
    async with asyncio.timeout(30):
        while (await call.handle.describe()).run_id == first_run:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    confirmed = await call.say("Да")
    assert confirmed.stage == "CONFIRMED", "the read-back and the draft survived the hand-over"
    await stage_reached(call, Stage.SMS_SENT)  # the SMS goes out between the turns
    assert (await call.say("А молоко у вас есть?")).stage == Stage.SMS_SENT
    await call.hang_up()
    assert await call.result() == "order_confirmed"
    last_request = calls.llm.requests(call.call_id)[-1]
    said = [m.get("content") for m in last_request["messages"] if m["role"] == "user"]
    assert said[:3] == ["Гречку, одну", "Курьером на Тверскую семь", "Да"], (
        "the conversation carried over"
    )
    assert last_tool_result(last_request, "confirm_order")["confirmed"] is True
    calls.llm.assert_consumed(call.call_id)
    await keep_history(call, "long_call_continue_as_new")


async def test_turns_sent_back_to_back_across_hand_overs_all_get_replies(calls: Calls) -> None:
    """A turn that arrives while a run hands over is answered (by the old run or the new
    one), never failed with 'workflow completed before the update'."""
    call = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED, turns_per_run=1)
    lines = ["Хочу заказать гречку продел", "Повторите", "Одну", "Повторите", "Всё", "Курьером"]
    for line in lines + ["Повторите"] * 4:
        reply = await call.say(line)
        assert reply.sentences, line
    await call.hang_up()
    await call.result()
    rows = await calls.fetch(
        "SELECT turn_no FROM bot.call_turns WHERE call_id = $1 ORDER BY turn_no", call.call_id
    )
    assert [r["turn_no"] for r in rows] == list(range(1, 11)), "each run wrote its turns"
    await keep_history(call, "hand_over_with_turns_in_flight")
