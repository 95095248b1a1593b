"""The edge over real TCP on top of the real call stack of tests/workflows (Temporal dev
server, worker, Store API, PostgreSQL, FakeLLM), with STT played by FakeSpeech and TTS by
espeak-ng. Fixtures are imported from tests.workflows.conftest so both directories build the
stack the same way.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest
from temporalio.client import Client

from audiosocket.ari import AriClient
from audiosocket.edge import Edge
from audiosocket.end_of_turn import EndOfTurnWaits
from audiosocket.reply_stream import ReplyStreamConfig
from audiosocket.session import BARGE_IN_ONSET_MS, EdgeCallSession, SessionTimings
from audiosocket.simulator.peer import AudioSocketPeer
from audiosocket.speech import (
    Endpointer,
    EspeakSynthesizer,
    OpenAiTranscriber,
    synthesize_to_pcm,
)
from core.settings import Settings
from core.vocabulary import AgentMode
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_openai_audio import FakeSpeech
from tests.workflows import conftest as workflow_stack

# The real call stack, built exactly as for the workflow tests (pytest registers a fixture
# under the name of the attribute that holds it).
temporal_env = workflow_stack.temporal_env
fake_llm = workflow_stack.fake_llm
call_settings = workflow_stack.call_settings
call_worker = workflow_stack.call_worker

# Replies and caller phrases play in real time: fast speech keeps the e2e file short.
BOT_WORDS_PER_MINUTE = 420
CALLER_WORDS_PER_MINUTE = 260
# Shorter than production's 700 ms: espeak leaves no long pauses inside a phrase.
END_SILENCE_MS = 450
# The end-of-turn waits of the e2e calls: production's, but the ordinary one as above. No
# early transcripts: each would take a scripted transcript of FakeSpeech (their own tests
# script for it).
TEST_END_OF_TURN = EndOfTurnWaits(free_ms=END_SILENCE_MS, early_stt_ms=None)
# Tests wait for turns; a short re-prompt would fire while the fake LLM is scripted.
TEST_TIMINGS = SessionTimings(silence_reprompt_s=30.0, inter_digit_s=1.0)


@pytest.fixture(scope="session")
async def fake_speech() -> AsyncIterator[FakeSpeech]:
    async with FakeSpeech() as speech:
        yield speech


@functools.cache
def caller_speech(
    text: str, rate: int = 16000, words_per_minute: int = CALLER_WORDS_PER_MINUTE
) -> bytes:
    """What the caller says: espeak Russian (real speech for silero), silence trimmed."""
    pcm = synthesize_to_pcm(text, rate, words_per_minute=words_per_minute)
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


@dataclass
class EdgeCalls:
    """Places calls into one running edge and scripts the fakes for each call id."""

    edge: Edge
    llm: FakeLLM
    speech: FakeSpeech
    settings: Settings
    peers: list[AudioSocketPeer] = field(default_factory=list)

    async def dial(
        self,
        *,
        llm: list[Reply] | None = None,
        heard: list[str] | None = None,
        rate: int = 8000,  # the dialplan AudioSocket() path; ARI calls use slin16
        audiosocket_id: uuid.UUID | None = None,
    ) -> tuple[AudioSocketPeer, EdgeCallSession]:
        """A new AudioSocket connection; `heard` is what STT will return, turn by turn."""
        audiosocket_id = audiosocket_id or uuid.uuid4()
        call_id = f"call-{audiosocket_id}"
        if llm:
            self.llm.script(call_id, llm)
        if heard:
            self.speech.script(call_id, heard)
        peer = await AudioSocketPeer.connect("127.0.0.1", self.edge.port, audiosocket_id, rate=rate)
        self.peers.append(peer)
        return peer, await self.edge.session(audiosocket_id)

    async def say(self, peer: AudioSocketPeer, text: str) -> float:
        """The caller speaks; returns when the bot's answer started (peer clock)."""
        await peer.play(caller_speech(text, peer.rate))
        ended = asyncio.get_running_loop().time()
        return await peer.wait_for_bot_speech(since=ended, timeout_s=30)


def quick_endpointer(rate: int) -> Endpointer:
    return Endpointer(rate, end_silence_ms=END_SILENCE_MS, onset_ms=BARGE_IN_ONSET_MS, batched=True)


@asynccontextmanager
async def running_edge(
    client: Client,
    settings: Settings,
    speech: FakeSpeech,
    *,
    ari: AriClient | None = None,
    timings: SessionTimings = TEST_TIMINGS,
    stt: bool = True,
    agent: AgentMode = AgentMode.AUTO,
    max_calls: int = 100,
    end_of_turn: EndOfTurnWaits = TEST_END_OF_TURN,
    attention_after_s: int = 120,
    reply_stream: bool = False,
) -> AsyncIterator[Edge]:
    """An edge on a free port; `stt=False` runs it without a transcriber, `reply_stream`
    with its reply-stream endpoint (the worker of the stack shares its secret)."""
    edge = Edge(
        client=client,
        task_queue=settings.temporal_task_queue,
        transcriber=(
            OpenAiTranscriber(speech.base_url, "test", "whisper-1", max_retries=0) if stt else None
        ),
        synthesizer=EspeakSynthesizer(words_per_minute=BOT_WORDS_PER_MINUTE),
        host="127.0.0.1",
        port=0,
        ari=ari,
        timings=timings,
        metrics_port=0,
        endpointer=quick_endpointer,
        agent=agent,
        max_calls=max_calls,
        end_of_turn=end_of_turn,
        attention_after_s=attention_after_s,
        reply_stream=(
            ReplyStreamConfig(workflow_stack.REPLY_STREAM_SECRET, host="127.0.0.1", port=0)
            if reply_stream
            else None
        ),
    )
    async with edge:
        yield edge


@pytest.fixture
async def edge_calls(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, fake_speech: FakeSpeech
) -> AsyncIterator[EdgeCalls]:
    async with running_edge(call_worker, call_settings, fake_speech) as edge:
        calls = EdgeCalls(edge, fake_llm, fake_speech, call_settings)
        try:
            yield calls
        finally:
            for peer in calls.peers:
                await peer.hang_up()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Poll `check` (state spread over servers and tasks; no single event to wait on)."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
