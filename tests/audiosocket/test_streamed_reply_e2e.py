"""Streamed replies through the real edge (the stack of test_edge_e2e.py, the edge with its
reply-stream endpoint): the bot starts speaking while the model still writes, the workflow's
reply adds only what was not streamed, and a barge-in over streamed audio cuts it and tells
the workflow how much of the reply was heard.

The model is held mid-reply (FakeLLM `pause`) so that "before the workflow answered" is a
fact of the test, not a timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio.client import Client

from audiosocket.speech import Synthesizer
from core.settings import Settings
from russian.text import reply_sentences
from tests.audiosocket.conftest import EdgeCalls, caller_speech, eventually, running_edge
from tests.audiosocket.test_edge_e2e import QUIET_MS, TURN_TIMEOUT_S, speak, update_inputs
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows.scripts import say

ANSWER = "Гречка есть. Пачка стоит сто двенадцать рублей. Сколько пачек положить?"
LONG_REPLY = (
    "Доставка работает каждый день с девяти утра до девяти вечера. "
    "Курьер привезёт заказ в выбранный двухчасовой интервал. "
    "Стоимость доставки зависит от суммы заказа и района. "
    "Самовывоз из любого пункта выдачи бесплатный."
)


@dataclass
class RecordingSynthesizer:
    """The edge's real synthesizer, noting which texts it was asked for, per call."""

    inner: Synthesizer
    texts: dict[str, list[str]] = field(default_factory=dict)

    async def synthesize(
        self, text: str, rate: int, *, call_id: str
    ) -> AsyncGenerator[bytes, None]:
        self.texts.setdefault(call_id, []).append(text)
        async for chunk in self.inner.synthesize(text, rate, call_id=call_id):
            yield chunk


@pytest.fixture
async def streaming_calls(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> AsyncIterator[tuple[EdgeCalls, RecordingSynthesizer]]:
    async with running_edge(call_worker, call_settings, fake_speech, reply_stream=True) as edge:
        recording = RecordingSynthesizer(edge.deps.synthesizer)
        edge.deps.synthesizer = recording
        calls = EdgeCalls(edge, fake_llm, fake_speech, call_settings)
        try:
            yield calls, recording
        finally:
            for peer in calls.peers:
                await peer.hang_up()


async def test_the_bot_speaks_while_the_model_still_writes(
    streaming_calls: tuple[EdgeCalls, RecordingSynthesizer],
) -> None:
    calls, recording = streaming_calls
    go_on = asyncio.Event()
    # The model stalls after "Гречка есть. Пачка": its first sentence is out.
    peer, session = await calls.dial(
        llm=[Reply.text(ANSWER).pause(3, until=go_on)], heard=["Есть гречка?"]
    )
    try:
        await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
        assert session.workflow is not None and session.workflow.last_reply is not None
        greeting = session.workflow.last_reply
        stopped = await speak(peer, "Есть гречка?")
        await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
        assert session.workflow.last_reply is greeting, "the bot spoke before the reply came"
        assert recording.texts[session.call_id][-1] == reply_sentences(ANSWER)[0]
    finally:
        go_on.set()
    await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
    reply = session.workflow.last_reply
    assert reply is not None and reply.sentences == reply_sentences(ANSWER)
    # Every sentence of the reply was spoken once: streamed, or from the record after it.
    spoken = recording.texts[session.call_id]
    assert spoken[spoken.index(reply.sentences[0]) :] == reply.sentences
    stream = calls.edge.reply_stream
    assert stream is not None and stream.counters.diverged == 0
    metrics = calls.edge.metrics
    assert metrics.streamed_turns == 1 and metrics.fillers == 0


async def test_a_barge_in_over_streamed_audio_cuts_it_and_reports_what_was_heard(
    streaming_calls: tuple[EdgeCalls, RecordingSynthesizer],
) -> None:
    calls, recording = streaming_calls
    go_on = asyncio.Event()
    sentences = reply_sentences(LONG_REPLY)
    # Two sentences are out when the model stalls: the caller talks over them while the
    # workflow has not answered yet.
    peer, session = await calls.dial(
        llm=[Reply.text(LONG_REPLY).pause(18, until=go_on), say("Слушаю вас.")],
        heard=["Расскажите о доставке", "Подождите"],
    )
    interruption = await asyncio.to_thread(caller_speech, "Подождите, подождите", peer.rate)
    loop = asyncio.get_running_loop()
    try:
        await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
        stopped = await speak(peer, "Расскажите о доставке")
        reply_started = await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
        await asyncio.sleep(1.0)
        onset = loop.time()
        await peer.play(interruption)

        async def cut_off() -> bool:
            return calls.edge.metrics.barge_ins == 1

        await eventually(cut_off, TURN_TIMEOUT_S)
        assert session.workflow is not None and session.workflow.last_reply is not None
        assert session.workflow.last_reply.reply_id == 1, "cut while streaming: no reply yet"
    finally:
        go_on.set()
    workflow = session.workflow

    async def answered() -> bool:
        return workflow.last_reply is not None and workflow.last_reply.text == "Слушаю вас."

    await eventually(answered, TURN_TIMEOUT_S)
    cut = next(s for s in peer.speech_spans(since=reply_started) if s.end > onset - 0.1)
    print(f"\nstreamed barge-in: bot audio stopped {(cut.end - onset) * 1000:.0f} ms after onset")
    assert cut.end - onset < 0.4

    played = (await update_inputs(session, "caller_said"))[1]["previous_playback"]
    heard_ms = (onset - reply_started) * 1000
    print(f"streamed barge-in: played_ms={played['played_ms']}, peer heard ~{heard_ms:.0f} ms")
    assert played["played_to_end"] is False
    assert abs(played["played_ms"] - heard_ms) < 400, (played, heard_ms)
    # Nothing more of the reply was spoken after the cut: not what the model wrote after it,
    # nor what the record adds.
    spoken = recording.texts[session.call_id]
    after_greeting = spoken[spoken.index(sentences[0]) :]
    assert after_greeting[-1] == "Слушаю вас."
    assert not set(sentences[2:]) & set(after_greeting)
    assert calls.edge.metrics.barge_ins == 1


async def test_a_streamed_reply_to_a_wideband_caller_is_spoken_at_16_khz(
    streaming_calls: tuple[EdgeCalls, RecordingSynthesizer],
) -> None:
    """A dialplan caller silent until speaking is greeted at 8 kHz; its line's 16 kHz is
    taken up with its first frame while the bot is silent, so the streamed reply (spoken
    before the workflow answered) is wideband from its first sentence."""
    calls, _ = streaming_calls
    go_on = asyncio.Event()
    peer, session = await calls.dial(
        rate=16000, llm=[Reply.text(ANSWER).pause(3, until=go_on)], heard=["Есть гречка?"]
    )
    try:
        await peer.wait_until_bot_quiet(QUIET_MS, timeout_s=TURN_TIMEOUT_S)
        assert set(peer.frame_rates(loud=True)) == {8000}  # the greeting
        stopped = await speak(peer, "Есть гречка?")
        await peer.wait_for_bot_speech(since=stopped, timeout_s=TURN_TIMEOUT_S)
        assert session.workflow is not None
        assert session.workflow.last_reply is not None
        assert session.workflow.last_reply.sentences != reply_sentences(ANSWER), "streamed"
        assert set(peer.frame_rates(since=stopped, loud=True)) == {16000}
    finally:
        go_on.set()
    await peer.wait_until_bot_quiet(QUIET_MS, since=stopped, timeout_s=TURN_TIMEOUT_S)
    assert set(peer.frame_rates(since=stopped, loud=True)) == {16000}
    peer.raise_if_failed()
