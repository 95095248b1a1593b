"""An LLM answering with huge or malformed tool calls never fails a call (issue 12 item 7):
megabytes of arguments, broken or deeply nested JSON, a tool that does not exist, fifty calls
in one reply, a book of text, a lone surrogate. Each becomes a tool error the model can act
on, or is cut; the call goes on and finishes its post-call work. The fake LLM sends all of
it over the real OpenAI wire protocol to the real `openai` SDK."""

from __future__ import annotations

import json

from temporalio.client import WorkflowExecutionStatus

from activities.agent import MAX_TEXT_CHARS
from prompts.tools import MAX_ARGUMENT_CHARS, MAX_TOOL_CALLS_PER_REPLY
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.test_status_scenarios import tool_results
from workflows import phrases

MEGABYTE_QUERY = '{"query": "' + "а" * 1_000_000 + '"}'
TOO_DEEP = "[" * 1900 + "]" * 1900  # under the size limit, past the JSON parser's depth


async def test_huge_malformed_unknown_and_many_tool_calls_never_fail_a_call(calls: Calls) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            # turn 1: a megabyte of arguments, then broken JSON; the model recovers
            Reply.tools(("search_products", MEGABYTE_QUERY), ("search_products", "{not json")),
            Reply.text("Повторите, пожалуйста."),
            # turn 2: nesting past the parser's depth, a tool that does not exist, bad values:
            # three errors in a row end the turn with the offer of an operator
            Reply.tool("get_order_status", TOO_DEEP),
            Reply.tool("drop_all_orders", {"really": True}, unoffered_ok=True),
            Reply.tool("search_products", {"query": "x"}),
            # turn 3: fifty calls in one reply
            Reply.tools(*[("search_products", {"query": "чай"})] * 50),
            # turn 4: a book instead of a sentence; turn 5: a broken escape
            Reply.text("Очень длинный ответ. " * 10_000),
            Reply.text("Ответ \ud800 с поломанным символом."),
            Reply.text("Чем ещё помочь?"),
        ],
    )
    recovered = await call.say("Найдите гречку")
    assert recovered.text == "Повторите, пожалуйста."
    three_errors = await call.say("Где мой заказ?")
    assert three_errors.sentences == phrases.too_many_errors()
    many = await call.say("Чай")
    assert many.sentences == phrases.too_many_errors(), "the per-turn limit ended the turn"
    book = await call.say("Расскажите всё")
    assert len(book.text) <= MAX_TEXT_CHARS
    broken = await call.say("Ещё раз")
    assert "поломанным" in broken.text and "\ud800" not in broken.text
    await call.say("Спасибо")
    await call.hang_up()
    assert await call.result() == "hung_up"
    description = await call.handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED

    last = calls.llm.requests(call.call_id)[-1]
    searched = [json.loads(r) for r in tool_results(last, "search_products")]
    assert searched[0]["error"] == f"Аргументы длиннее {MAX_ARGUMENT_CHARS} символов."
    assert searched[1]["error"] == "Аргументы не являются JSON-объектом."
    assert searched[2]["error"].startswith("Неверные аргументы: query")
    fifty = searched[3:]
    assert len(fifty) == MAX_TOOL_CALLS_PER_REPLY, "calls past the reply's cap are dropped"
    assert ["items" in r for r in fifty] == [True] * 5 + [False] * 5
    assert {r["error"] for r in fifty[5:]} == {"Лимит действий за ход исчерпан."}
    [too_deep] = [json.loads(r) for r in tool_results(last, "get_order_status")]
    assert too_deep["error"] == "Аргументы не являются JSON-объектом."
    [unknown] = [json.loads(r) for r in tool_results(last, "drop_all_orders")]
    assert unknown["error"] == "Нет инструмента 'drop_all_orders'."
    assert all(len(m.get("content") or "") < 50_000 for m in last["messages"])

    turns = await calls.fetch(
        "SELECT turn_no, jsonb_array_length(tools) AS tools FROM bot.call_turns"
        " WHERE call_id = $1 ORDER BY turn_no",
        call.call_id,
    )
    assert [(t["turn_no"], t["tools"]) for t in turns] == [
        (1, 2),
        (2, 3),
        (3, 5),
        (4, 0),
        (5, 0),
        (6, 0),
    ]
    history = await call.handle.fetch_history()
    assert len(history.to_json()) < 1_000_000, "the megabyte never entered the history"
    await keep_history(call, "hostile_llm_tool_calls")
