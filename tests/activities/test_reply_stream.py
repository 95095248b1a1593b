"""Streamed replies end to end: the publisher in a real activity of a real workflow on the
Temporal dev server, the edge's endpoint (audiosocket/reply_stream.py) on a real socket, and
the test in the edge's place - it subscribes before sending the turn as an update, hears the
streamed sentences, then speaks what the recorded reply holds beyond them.

What must hold: the caller hears every sentence of the recorded reply once, in order, and
nothing else - also when an attempt fails, hangs or its worker is killed mid-stream - and
the turn goes on when no edge listens.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.reply_stream import ReplyPublisher
from audiosocket.reply_stream import PATH_PREFIX, ReplyStreamServer
from core.reply_stream import (
    OPEN_PATH,
    SENTENCE_PATH,
    StreamOpen,
    StreamTarget,
    Unspoken,
    turn_token,
)
from core.temporal import DATA_CONVERTER
from tests.activities.reply_stream_workflows import Speaker, SpeakRequest, StreamedTurnWorkflow
from tests.support.servers import free_port
from tests.support.temporal import temporal_dev_server
from voiceorder.stack.process import die_with_parent

SECRET = "reply-stream-test-secret"
FIRST = ["Гречка есть.", "Девятьсот грамм.", "Сто двенадцать рублей.", "Добавить в заказ?"]
RETRY = ["Да, гречка есть.", "Пачка 900 г.", "Цена 112 ₽.", "Положить в корзину?"]


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[Client]:
    async with temporal_dev_server(data_converter=DATA_CONVERTER) as env:
        yield env.client


@pytest.fixture
async def edge() -> AsyncIterator[ReplyStreamServer]:
    async with ReplyStreamServer(SECRET, host="127.0.0.1") as server:
        yield server


@pytest.fixture
async def publisher() -> AsyncIterator[ReplyPublisher]:
    async with ReplyPublisher(SECRET) as worker_side:
        yield worker_side


@asynccontextmanager
async def turn_workflow(
    client: Client, activities: list[Callable[..., object]]
) -> AsyncIterator[WorkflowHandle[StreamedTurnWorkflow, None]]:
    queue = f"reply-stream-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[StreamedTurnWorkflow],
        activities=activities,
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            StreamedTurnWorkflow.run, id=f"streamed-{uuid.uuid4().hex}", task_queue=queue
        )
        try:
            yield handle
        finally:
            await handle.signal(StreamedTurnWorkflow.finish)
            await handle.result()


@dataclass
class Heard:
    streamed: list[str]  # spoken as the sentences arrived
    before_reply: list[str]  # of those, the ones that had arrived when the reply did
    rest: Unspoken  # what the edge speaks from the recorded reply afterwards
    reply: list[str]  # the record: the update's result

    @property
    def spoken(self) -> list[str]:
        return self.streamed + self.rest.sentences


async def edge_turn(
    edge: ReplyStreamServer,
    handle: WorkflowHandle[StreamedTurnWorkflow, None],
    request: Callable[[StreamTarget], SpeakRequest],
) -> Heard:
    """What the edge's session will do for one caller turn."""
    with edge.subscribe(f"call-{uuid.uuid4().hex[:8]}") as subscription:
        streamed: list[str] = []

        async def listen() -> None:
            async for sentence in subscription:
                streamed.append(sentence)

        listener = asyncio.create_task(listen())
        reply = await handle.execute_update(
            "turn", request(subscription.target), result_type=list[str]
        )
        before_reply = list(subscription.received)
        subscription.close()
        await asyncio.wait_for(listener, 5)
        return Heard(streamed, before_reply, subscription.unspoken(reply), reply)


def assert_heard_the_record_once(heard: Heard) -> None:
    assert not heard.rest.diverged
    assert heard.spoken == heard.reply
    assert heard.streamed == heard.reply[: len(heard.streamed)]


async def test_sentences_reach_the_edge_before_the_reply(
    client: Client, edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    async with turn_workflow(client, [Speaker(publisher).speak]) as handle:
        heard = await edge_turn(edge, handle, lambda t: SpeakRequest(target=t, scripts=[FIRST]))
    assert heard.reply == FIRST
    assert heard.before_reply == FIRST  # all streamed before the update's result came
    assert_heard_the_record_once(heard)
    assert publisher.counters.published == len(FIRST)
    assert edge.counters.accepted == len(FIRST)


async def test_a_retried_attempt_continues_after_what_the_edge_holds(
    client: Client, edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    async with turn_workflow(client, [Speaker(publisher).speak]) as handle:
        heard = await edge_turn(
            edge,
            handle,
            lambda t: SpeakRequest(target=t, scripts=[FIRST, RETRY], fail_after=2),
        )
    # The second attempt words things differently but starts with what was already heard.
    assert heard.reply == [*FIRST[:2], *RETRY[2:]]
    assert heard.streamed == heard.reply
    assert_heard_the_record_once(heard)


async def test_a_hung_attempt_cannot_speak_once_its_retry_opened(
    client: Client, edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    speaker = Speaker(publisher)
    async with turn_workflow(client, [speaker.speak]) as handle:
        heard = await edge_turn(
            edge,
            handle,
            lambda t: SpeakRequest(target=t, scripts=[FIRST, RETRY], zombie_after=1, timeout_s=1.5),
        )
    assert speaker.zombie_done.is_set()  # it did try to go on, after the retry had opened
    assert speaker.zombie is not None and speaker.zombie.published == FIRST[:1]
    assert edge.counters.refused >= 1
    assert heard.reply == [FIRST[0], *RETRY[1:]]
    assert_heard_the_record_once(heard)


async def test_a_worker_killed_mid_stream(
    client: Client, edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    activity_queue = f"reply-stream-speaker-{uuid.uuid4().hex[:8]}"
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.activities.reply_stream_worker",
        client.service_client.config.target_host,
        client.namespace,
        activity_queue,
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent(),
    )
    try:
        assert doomed.stdout is not None
        assert await asyncio.wait_for(doomed.stdout.readline(), 60) == b"ready\n"
        async with turn_workflow(client, []) as handle:
            turn = asyncio.create_task(
                edge_turn(
                    edge,
                    handle,
                    lambda t: SpeakRequest(
                        target=t,
                        scripts=[FIRST, RETRY],
                        kill_after=2,
                        timeout_s=3,
                        task_queue=activity_queue,
                    ),
                )
            )
            assert await asyncio.wait_for(doomed.wait(), 60) == -signal.SIGKILL
            async with Worker(
                client, task_queue=activity_queue, activities=[Speaker(publisher).speak]
            ):
                heard = await asyncio.wait_for(turn, 60)
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    assert heard.reply == [*FIRST[:2], *RETRY[2:]]
    assert heard.streamed == heard.reply
    assert_heard_the_record_once(heard)


async def test_many_turns_at_once_each_hear_their_own_sentences_in_order(
    client: Client, edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    def script(turn: int) -> list[str]:
        return [f"Ход {turn}, фраза {n}." for n in range(15)]

    def speak(turn: int) -> Callable[[StreamTarget], SpeakRequest]:
        return lambda target: SpeakRequest(target=target, scripts=[script(turn)])

    async with turn_workflow(client, [Speaker(publisher).speak]) as handle:
        heard = await asyncio.gather(*(edge_turn(edge, handle, speak(n)) for n in range(8)))
    for n, turn in enumerate(heard):
        assert turn.streamed == turn.reply == script(n)
    assert edge.counters.accepted == 8 * 15
    assert edge.counters.duplicates == edge.counters.refused == 0


async def test_the_turn_goes_on_when_no_edge_listens(
    client: Client, publisher: ReplyPublisher
) -> None:
    nobody = StreamTarget(
        url=f"http://127.0.0.1:{free_port()}{PATH_PREFIX}", call_id="call-x", turn_key="t"
    )
    async with turn_workflow(client, [Speaker(publisher).speak]) as handle:
        reply = await handle.execute_update(
            "turn", SpeakRequest(target=nobody, scripts=[FIRST]), result_type=list[str]
        )
        assert reply == FIRST
        assert publisher.counters.failures == 1  # the open; the sentences were not even tried
        assert publisher.counters.dropped == len(FIRST)
        # The next turn for that edge does not try again for a while: no cost at all.
        again = await handle.execute_update(
            "turn", SpeakRequest(target=nobody, scripts=[RETRY]), result_type=list[str]
        )
    assert again == RETRY
    assert publisher.counters.failures == 1 and publisher.counters.skipped == 1


async def test_an_edge_that_never_answers_costs_the_turn_one_timeout(client: Client) -> None:
    async def swallow(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads the request and never answers

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = StreamTarget(url=f"http://127.0.0.1:{port}{PATH_PREFIX}", call_id="c", turn_key="t")
    try:
        async with (
            ReplyPublisher(SECRET, request_timeout_s=0.3) as slow_edge_publisher,
            turn_workflow(client, [Speaker(slow_edge_publisher).speak]) as handle,
        ):
            async with asyncio.timeout(10):  # liveness, not a latency figure
                reply = await handle.execute_update(
                    "turn", SpeakRequest(target=silent, scripts=[FIRST]), result_type=list[str]
                )
            assert reply == FIRST
            assert slow_edge_publisher.counters.failures == 1
    finally:
        server.close()


async def test_a_turn_the_edge_stopped_listening_to(
    edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    # Closed before the publisher came: nothing of the turn can be heard any more.
    with edge.subscribe("call-late") as late:
        pass
    turn = await publisher.open(late.target, attempt=2)
    assert turn.prefix_known and turn.prefix == () and not turn.live
    # Closed mid-stream (the reply came, or the caller hung up): the rest is refused.
    with edge.subscribe("call-mid") as subscription:
        turn = await publisher.open(subscription.target, attempt=1)
        turn.publish(FIRST[0])
        await turn.flush()
    turn.publish(FIRST[1])
    await turn.finish()
    assert not turn.live and turn.published == FIRST[:1]
    assert subscription.received == (FIRST[0],)
    # And when the whole edge is gone, publishing is quietly dropped.
    async with ReplyStreamServer(SECRET, host="127.0.0.1") as doomed_edge:
        gone = doomed_edge.subscribe("call-gone")
        turn = await publisher.open(gone.target, attempt=1)
    turn.publish(FIRST[0])
    await turn.finish()
    assert not turn.live and turn.published == []


async def test_iteration_ends_at_the_final_marker(
    edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    subscription = edge.subscribe("call-final")
    turn = await publisher.open(subscription.target, attempt=1)
    for sentence in FIRST[:2]:
        turn.publish(sentence)
    await turn.finish()
    heard = [sentence async for sentence in subscription]  # ends without close()
    assert heard == FIRST[:2] and subscription.final
    # A later attempt learns that the reply was complete and may add nothing.
    again = await publisher.open(subscription.target, attempt=2)
    assert again.prefix == tuple(FIRST[:2]) and again.prefix_final and not again.live
    subscription.close()


async def test_only_the_holder_of_the_secret_may_speak(
    edge: ReplyStreamServer, publisher: ReplyPublisher
) -> None:
    subscription = edge.subscribe("call-auth")
    target = subscription.target
    opening = StreamOpen(call_id=target.call_id, turn_key=target.turn_key).model_dump_json()
    intrusion = json.dumps(
        {"call_id": target.call_id, "turn_key": target.turn_key, "index": 0, "text": "Взлом."}
    )
    other_turn = turn_token(SECRET, target.call_id, "another-turn")
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": f"Bearer {other_turn}"}):
            for path in (OPEN_PATH, SENTENCE_PATH):
                body = opening if path == OPEN_PATH else intrusion
                async with http.post(target.url + path, data=body, headers=headers) as answer:
                    assert answer.status == 401
    async with ReplyPublisher("a-guessed-secret") as intruder:
        turn = await intruder.open(target, attempt=1)
        turn.publish("Взлом.")
        await turn.finish()
        assert not turn.live and intruder.counters.refused == 1
    assert not subscription.received
    assert edge.counters.unauthorized == 5
    # The real worker still speaks: the refusals changed nothing in the turn.
    turn = await publisher.open(target, attempt=1)
    turn.publish(FIRST[0])
    await turn.finish()
    assert subscription.received == (FIRST[0],)
    subscription.close()
