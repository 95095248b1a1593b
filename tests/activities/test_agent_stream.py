"""The agent activity streaming a reply: the real `openai` SDK reads the fake LLM's SSE stream,
the sentences go over HTTP to the edge's real reply-stream endpoint (the test listens there
as the edge does), and the activity says which sentences the caller hears.

The workflow-level invariants (retries through Temporal, a killed worker, the record) are in
tests/workflows/test_streamed_replies.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.agent import OpenAiAgentActivities
from activities.interfaces.agent import AgentReply, AgentRequest, StreamedSoFarRequest
from activities.reply_stream import ReplyPublisher
from audiosocket.reply_stream import ReplyStreamServer, TurnSubscription
from core.settings import Settings
from core.vocabulary import ErrorType, ToolName
from prompts import CONTINUE_AFTER_CUT
from russian.text import reply_sentences
from tests.support.fake_llm import FakeLLM, Reply

SECRET = "agent-stream-test-secret"
ANSWER = "Гречка есть. Пачка стоит сто двенадцать рублей. Сколько пачек положить?"
SENTENCES = reply_sentences(ANSWER)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as fake:
        yield fake


@pytest.fixture
async def edge() -> AsyncIterator[ReplyStreamServer]:
    async with ReplyStreamServer(SECRET, host="127.0.0.1") as server:
        yield server


@pytest.fixture
async def agent(llm: FakeLLM) -> AsyncIterator[OpenAiAgentActivities]:
    settings = Settings(
        _env_file=None, openai_base_url=llm.base_url, openai_api_key="t", llm_model="fake-llm"
    )
    async with ReplyPublisher(SECRET) as publisher:
        yield OpenAiAgentActivities(settings, publisher=publisher)


def ask(
    call_id: str,
    subscription: TurnSubscription | None,
    *,
    step: int = 0,
    spoken_before: list[str] | None = None,
    tools: list[ToolName] | None = None,
) -> AgentRequest:
    return AgentRequest(
        call_id=call_id,
        messages=[{"role": "user", "content": "Есть гречка?"}],
        tools=tools or [],
        stream=subscription.target if subscription else None,
        step=step,
        spoken_before=spoken_before or [],
    )


def attempt(number: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = env.info.__class__(**{**env.info.__dict__, "attempt": number})
    return env


async def run(agent: OpenAiAgentActivities, request: AgentRequest, number: int = 1) -> AgentReply:
    reply: AgentReply = await attempt(number).run(agent.agent_turn, request)
    return reply


async def test_sentences_reach_the_edge_while_the_model_still_writes(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    go_on = asyncio.Event()
    # The model stalls after "Гречка есть. Пачка": the first sentence is certain by then.
    llm.script(call_id, [Reply.text(ANSWER).pause(3, until=go_on)])
    with edge.subscribe(call_id) as subscription:
        turn = asyncio.create_task(run(agent, ask(call_id, subscription)))
        heard = aiter(subscription)
        async with asyncio.timeout(10):
            first = await anext(heard)
        assert first == SENTENCES[0]
        assert not turn.done(), "heard while the model was still writing"
        go_on.set()
        reply = await turn
        async with asyncio.timeout(10):
            rest = [sentence async for sentence in heard]  # ends at the final marker
    assert [first, *rest] == SENTENCES
    assert reply.spoken == SENTENCES and not reply.tool_calls
    assert reply.text == ANSWER
    assert llm.requests(call_id)[0]["stream"] is True


async def test_each_sentence_is_hinted_before_it_is_certain(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    go_on = asyncio.Event()
    # The model stalls right after "Гречка есть.": the sentence is not certain yet.
    llm.script(call_id, [Reply.text(ANSWER).pause(2, until=go_on)])
    with edge.subscribe(call_id) as subscription:
        hints: list[tuple[int, str, int]] = []
        hinted = asyncio.Event()

        def on_hint(index: int, text: str) -> None:
            hints.append((index, text, len(subscription.received)))
            hinted.set()

        subscription.on_hint = on_hint
        turn = asyncio.create_task(run(agent, ask(call_id, subscription)))
        async with asyncio.timeout(10):
            await hinted.wait()
        assert hints == [(0, SENTENCES[0], 0)]  # hinted, not held
        go_on.set()
        reply = await turn
    assert reply.spoken == SENTENCES
    # Every sentence that was guessed came as guessed, before it was held.
    assert [(i, text) for i, text, _ in hints] == list(enumerate(SENTENCES))[: len(hints)]
    assert all(held == index for index, _, held in hints)


async def test_without_a_target_the_model_is_asked_as_before(
    agent: OpenAiAgentActivities, llm: FakeLLM
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    llm.script(call_id, [Reply.text(ANSWER)])
    reply = await run(agent, ask(call_id, None))
    assert reply.spoken is None and reply.text == ANSWER
    assert "stream" not in llm.requests(call_id)[0]


async def test_words_before_a_tool_call_go_out_and_are_what_is_spoken(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    llm.script(
        call_id,
        [Reply.tool("search_products", {"query": "гречка"}, content="Сейчас посмотрю. Секунду.")],
    )
    with edge.subscribe(call_id) as subscription:
        reply = await run(agent, ask(call_id, subscription, tools=[ToolName.SEARCH_PRODUCTS]))
        assert subscription.received == ("Сейчас посмотрю.", "Секунду.")
        assert not subscription.final, "a tool step leaves the turn open for the next step"
    assert reply.spoken == ["Сейчас посмотрю.", "Секунду."]
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("search_products", '{"query": "гречка"}')
    ]


async def test_a_retry_goes_on_after_what_the_caller_heard_and_never_repeats_it(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    retried = "Гречка есть. Пачка стоит сто двенадцать рублей. Сколько вам?"
    # Attempt 1 breaks off after two sentences are out; the model, asked to go on, starts by
    # saying them again.
    llm.script(call_id, [Reply.text(ANSWER).cut(9), Reply.text(retried)])
    with edge.subscribe(call_id) as subscription:
        with pytest.raises(ApplicationError) as failed:
            await run(agent, ask(call_id, subscription), number=1)
        assert failed.value.type == ErrorType.LLM_UNAVAILABLE
        assert subscription.received == tuple(SENTENCES[:2])
        reply = await run(agent, ask(call_id, subscription), number=2)
        received = subscription.received
    assert received == (SENTENCES[0], SENTENCES[1], "Сколько вам?")
    assert reply.spoken == list(received)
    again = llm.requests(call_id)[1]["messages"]
    assert again[-2] == {"role": "assistant", "content": " ".join(SENTENCES[:2])}
    assert again[-1] == {"role": "system", "content": CONTINUE_AFTER_CUT}


async def test_a_step_sends_first_what_the_edge_missed_of_earlier_steps(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    llm.script(call_id, [Reply.text("Нашла. Гречка есть.")])
    with edge.subscribe(call_id) as subscription:
        # Step 0 got "Сейчас посмотрю." to the edge; "Секунду." was recorded but lost.
        publisher = agent._publisher
        assert publisher is not None
        step0 = await publisher.open(subscription.target, attempt=1, step=0)
        step0.publish("Сейчас посмотрю.")
        await step0.finish(final=False)
        before = ["Сейчас посмотрю.", "Секунду."]
        reply = await run(agent, ask(call_id, subscription, step=1, spoken_before=before))
        received = subscription.received
    assert received == ("Сейчас посмотрю.", "Секунду.", "Нашла.", "Гречка есть.")
    assert reply.spoken == ["Нашла.", "Гречка есть."]


async def test_a_step_the_edge_holds_whole_is_not_asked_again(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    llm.script(call_id, [Reply.text(ANSWER)])
    with edge.subscribe(call_id) as subscription:
        first = await run(agent, ask(call_id, subscription), number=1)
        # The attempt finished, but its result was lost (the worker died before it counted).
        again = await run(agent, ask(call_id, subscription), number=2)
    assert first.spoken == again.spoken == SENTENCES
    assert len(llm.requests(call_id)) == 1


async def test_after_a_failed_step_the_edge_tells_what_was_heard_and_stops_it(
    agent: OpenAiAgentActivities, llm: FakeLLM, edge: ReplyStreamServer
) -> None:
    call_id = f"call-{uuid.uuid4()}"
    llm.script(call_id, [Reply.text(ANSWER).cut(5)])
    with edge.subscribe(call_id) as subscription:
        with pytest.raises(ApplicationError):
            await run(agent, ask(call_id, subscription))
        request = StreamedSoFarRequest(stream=subscription.target, step=1)
        so_far = await ActivityEnvironment().run(agent.streamed_so_far, request)
        assert so_far.known and so_far.sentences == [SENTENCES[0]]
        # The failed step (step 0) can add nothing now.
        publisher = agent._publisher
        assert publisher is not None
        late = await publisher.open(subscription.target, attempt=3, step=0)
        assert not late.live
