"""SEC6 through the real workflow: each limit accepted at its boundary, refused one past it —
the utterance length (the update validator) and the tool calls per turn (tools.md rule 4);
and an address the Store API would refuse is a tool error, not a stuck workflow task."""

from __future__ import annotations

import json

import pytest
from temporalio.client import WorkflowUpdateFailedError

from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply
from tests.workflows.conftest import Calls
from tests.workflows.scripts import pick_product, say, search
from tests.workflows.test_status_scenarios import tool_results
from workflows.conversation import MAX_TOOL_CALLS_PER_TURN
from workflows.models import MAX_UTTERANCE_CHARS


async def test_utterance_length_at_and_past_the_limit(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [say("Поняла.")])
    at_limit = await call.say("а" * MAX_UTTERANCE_CHARS)
    assert at_limit.text == "Поняла."
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await call.say("а" * (MAX_UTTERANCE_CHARS + 1))
    assert f"longer than {MAX_UTTERANCE_CHARS}" in str(refused.value.cause)
    assert MAX_UTTERANCE_CHARS == 1000  # quality.md SEC6, as docs/security.md states it
    await call.hang_up()
    await call.result()
    [turn] = await calls.fetch(
        "SELECT caller_text FROM bot.call_turns WHERE call_id = $1", call.call_id
    )
    assert len(turn["caller_text"]) == MAX_UTTERANCE_CHARS, "the refused turn left no record"


async def test_tool_calls_per_turn_at_and_past_the_limit(calls: Calls) -> None:
    def searches(count: int) -> Reply:
        return Reply.tools(*[("search_products", {"query": "чай"})] * count)

    call = await calls.start(
        NO_ORDERS.phone,
        [
            searches(3),  # a turn may spread its calls over several model steps
            searches(MAX_TOOL_CALLS_PER_TURN - 3),
            searches(MAX_TOOL_CALLS_PER_TURN + 1),
            say("Чем ещё помочь?"),
        ],
    )
    await call.say("Чай")
    await call.say("Ещё чай")
    await call.say("Спасибо")
    await call.hang_up()
    await call.result()
    assert MAX_TOOL_CALLS_PER_TURN == 5  # tools.md rule 4

    results = [
        json.loads(r) for r in tool_results(calls.llm.requests(call.call_id)[-1], "search_products")
    ]
    at_limit, past = results[:5], results[5:]
    assert all("items" in r for r in at_limit)
    assert all("items" in r for r in past[:5])
    assert past[5] == {"error": "Лимит действий за ход исчерпан."}
    turns = await calls.fetch(
        "SELECT jsonb_array_length(tools) AS n FROM bot.call_turns WHERE call_id = $1"
        " ORDER BY turn_no",
        call.call_id,
    )
    assert [t["n"] for t in turns] == [5, 5, 0], "the call past the limit never ran"


async def test_an_address_longer_than_the_store_takes_is_a_tool_error(calls: Calls) -> None:
    def courier(city: str) -> Reply:
        address = {"city": city, "street": "Тверская", "house": "7", "apartment": None}
        return Reply.tool("update_order_delivery", {"type": "courier", "address": address})

    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            pick_product(1),
            courier("М" * 101),  # one past the Store API's Address.city
            say("Слишком длинный город."),
            Reply.tool("update_order_delivery", {"type": "pickup", "pickup_point_id": ""}),
            say("Какой пункт?"),
            courier("М" * 100),  # at it: the Store API is asked (and answers for itself)
            say("Адрес проверен."),
        ],
    )
    assert (await call.say("Гречку, одну пачку, курьером")).text == "Слишком длинный город."
    assert (await call.say("Самовывоз")).text == "Какой пункт?"
    assert (await call.say("Нет, курьером")).text == "Адрес проверен."
    await call.hang_up()
    await call.result()

    results = [
        json.loads(r)
        for r in tool_results(calls.llm.requests(call.call_id)[-1], "update_order_delivery")
    ]
    assert results[0]["error"].startswith("Неверные аргументы: address.city")
    assert results[1]["error"].startswith("Неверные аргументы: pickup_point_id")
    assert not results[2].get("error", "").startswith("Неверные аргументы"), results[2]
