"""Streamed replies through the real workflow: the worker's agent activity streams the model's
sentences to a real reply-stream endpoint (the test listens there as the edge does, then
speaks what the recorded reply adds, as the edge does), the workflow records the reply.

The invariants of issue 11 (docs/streaming.md), each checked here:
- the caller hears the recorded reply, each sentence once, and nothing else - `hear` asserts
  it after every turn: streamed sentences, then the record's rest, equal the record;
- a retried attempt, or a whole worker killed mid-stream
  (test_streamed_worker_killed.py), never makes a sentence heard twice;
- no tool effect happens before the workflow validated it: words streamed before a refused
  tool are heard and recorded, the tool has no effect;
- the histories kept here replay (test_replay.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from audiosocket.reply_stream import ReplyStreamServer
from core.vocabulary import AgentMode
from guided import lines as guided_lines
from russian.text import reply_sentences
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import REPLY_STREAM_SECRET, Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import pick_product, say, search
from tests.workflows.test_order_scenarios import orders_of_call
from workflows.client import CallSession
from workflows.models import Reply as CallReply

ANSWER = "Гречка есть. Пачка стоит сто двенадцать рублей. Сколько пачек положить?"


@pytest.fixture
async def edge() -> AsyncIterator[ReplyStreamServer]:
    async with ReplyStreamServer(REPLY_STREAM_SECRET, host="127.0.0.1") as server:
        yield server


@dataclass
class Heard:
    reply: CallReply
    streamed: list[str]  # what arrived while the turn ran
    rest: list[str]  # what the edge speaks from the record afterwards


async def hear(edge: ReplyStreamServer, call: CallSession, text: str) -> Heard:
    """One caller turn as the edge takes it; asserts the caller hears exactly the record."""
    with edge.subscribe(call.call_id) as subscription:
        streamed: list[str] = []

        async def listen() -> None:
            async for sentence in subscription:
                streamed.append(sentence)

        listening = asyncio.create_task(listen())
        reply = await call.say(text, stream=subscription.target)
        subscription.close()
        await listening
        rest = subscription.unspoken(reply.sentences)
    assert not rest.diverged, (streamed, reply.sentences)
    assert streamed + rest.sentences == reply.sentences
    return Heard(reply, streamed, rest.sentences)


async def test_an_answer_is_heard_as_the_model_writes_it_and_recorded_whole(
    calls: Calls, edge: ReplyStreamServer
) -> None:
    call = await calls.start(NO_ORDERS.phone, [say(ANSWER), say("Хорошо.")])
    heard = await hear(edge, call, "Есть гречка?")
    assert heard.streamed == reply_sentences(ANSWER) and heard.rest == []
    # The next turn without a stream target is answered as before.
    assert (await call.say("Спасибо")).sentences == ["Хорошо."]
    state = await call.handle.query("state")
    assert {"role": "assistant", "content": " ".join(heard.streamed)} in state["messages"]
    await call.hang_up()
    await call.result()
    await keep_history(call, "streamed_answer")


async def test_words_before_a_tool_open_the_reply(calls: Calls, edge: ReplyStreamServer) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            Reply.tool("search_products", {"query": "гречка"}, content="Сейчас посмотрю."),
            say("Есть гречка ядрица. Сколько пачек?"),
        ],
    )
    heard = await hear(edge, call, "Есть гречка?")
    assert heard.reply.sentences == ["Сейчас посмотрю.", "Есть гречка ядрица.", "Сколько пачек?"]
    assert heard.streamed == heard.reply.sentences
    await call.hang_up()
    await call.result()
    calls.llm.assert_consumed(call.call_id)
    await keep_history(call, "streamed_tool_turn")


async def test_a_refused_tool_has_no_effect_and_the_words_before_it_stay_in_the_record(
    calls: Calls, edge: ReplyStreamServer, store_api: StoreApiServer
) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            search("гречка"),
            say("Есть гречка. Сколько пачек?"),
            pick_product(1),
            say("Доставить курьером?"),
            # No delivery yet: confirm_order is not even offered; the model proposes it
            # anyway, after words the caller hears at once. The workflow refuses it.
            Reply.tool("confirm_order", content="Оформляю заказ.", unoffered_ok=True),
            say("Сначала выберем доставку."),
        ],
    )
    await hear(edge, call, "Хочу гречку")
    await hear(edge, call, "Одну пачку")
    heard = await hear(edge, call, "Подтверждайте")
    assert heard.reply.sentences == ["Оформляю заказ.", "Сначала выберем доставку."]
    assert heard.reply.stage == "DRAFTING"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["draft"], "the refused confirmation did nothing"
    assert "order_confirmed" not in await calls.audit_events(call.call_id)
    await call.hang_up()
    await call.result()
    await keep_history(call, "streamed_refused_tool")


async def test_a_retried_attempt_goes_on_after_what_was_heard(
    calls: Calls, edge: ReplyStreamServer
) -> None:
    call = await calls.start(
        NO_ORDERS.phone,
        [
            # The stream breaks off after two sentences went out; Temporal retries the step
            # and the model, asked to go on, says the first one again before going on.
            Reply.text(ANSWER).cut(9),
            say("Гречка есть. Её как раз привезли. Сколько пачек положить?"),
        ],
    )
    heard = await hear(edge, call, "Есть гречка?")
    first, second = reply_sentences(ANSWER)[:2]
    assert heard.reply.sentences == [
        first,
        second,
        "Её как раз привезли.",
        "Сколько пачек положить?",
    ]
    assert len(calls.llm.requests(call.call_id)) == 2
    await call.hang_up()
    await call.result()
    await keep_history(call, "streamed_retried_attempt")


async def test_a_failed_step_keeps_its_words_before_the_guided_agent_goes_on(
    calls: Calls, edge: ReplyStreamServer
) -> None:
    # Both attempts break off after the first sentence: the call goes on with the guided
    # agent; the words the caller heard open the reply, before the note and the question.
    call = await calls.start(
        NO_ORDERS.phone,
        [Reply.text(ANSWER).cut(3), Reply.text(ANSWER).cut(3)],
        agent=AgentMode.AUTO,
    )
    heard = await hear(edge, call, "Хочу заказать гречку")
    assert heard.streamed == [reply_sentences(ANSWER)[0]]
    assert heard.reply.sentences[:2] == [reply_sentences(ANSWER)[0], guided_lines.SWITCHED]
    state = await call.handle.query("state")
    assert state["agent_mode"] == AgentMode.GUIDED
    await call.hang_up()
    await call.result()
    await keep_history(call, "streamed_step_failed_then_guided")
