"""Batched VAD (what the edge runs): calls' windows scored together in one model run per pass
of the event loop must score exactly what each stream alone scores, and an endpointer on it
must find the same utterances, a frame or a tick later at most."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiosocket.speech import Endpointer, SpeechEnded, SpeechStarted, VoiceActivity
from audiosocket.speech.vad import BATCH_DELAY_S, open_streams, shared_batcher
from tests.audiosocket.speech.audio import SECOND_PHRASE, frames, silence, speech

RATES = [8000, 16000]


def caller(rate: int, variant: int) -> bytes:
    """Speech, a pause of digital silence (windows the model skips), speech again; a different
    lead-in per stream so their windows are not aligned."""
    return (
        silence(0.013 * variant, rate)
        + speech(rate)
        + silence(0.5, rate)
        + speech(rate, SECOND_PHRASE)
    )


@pytest.mark.parametrize("rate", RATES)
async def test_batched_streams_score_what_each_stream_alone_scores(rate: int) -> None:
    audio = [caller(rate, variant) for variant in range(4)]
    alone = []
    for pcm in audio:
        vad = VoiceActivity(rate)
        alone.append(vad.feed(pcm) + vad.flush())
        vad.close()

    batcher = shared_batcher(rate)
    runs, windows = batcher.runs, batcher.windows
    streams = [VoiceActivity(rate, batched=True) for _ in audio]
    scored: list[list[float]] = [[] for _ in audio]
    cut = [frames(pcm, [rate // 50 * 2]) for pcm in audio]
    for step in range(max(len(c) for c in cut)):
        for i, stream in enumerate(streams):
            if step < len(cut[i]):
                scored[i] += stream.feed(cut[i][step])
        await asyncio.sleep(BATCH_DELAY_S * 1.5)  # the batcher runs
    for i, stream in enumerate(streams):
        scored[i] += stream.ready() + stream.flush()
        stream.close()

    for together, single in zip(scored, alone, strict=True):
        assert len(together) == len(single)
        assert max(abs(a - b) for a, b in zip(together, single, strict=True)) < 1e-4
    runs, windows = batcher.runs - runs, batcher.windows - windows
    print(f"{windows} windows in {runs} model runs")
    assert windows > 0 and runs < windows / 2, "the streams' windows were not batched"


@pytest.mark.parametrize("rate", RATES)
async def test_a_batched_endpointer_finds_the_same_utterances(rate: int) -> None:
    pcm = speech(rate) + silence(1.0, rate) + speech(rate, SECOND_PHRASE)
    results = []
    for batched in (False, True):
        endpointer = Endpointer(rate, batched=batched)
        events: list[object] = []
        now = 0.0
        for frame in frames(pcm, [rate // 50 * 2]):
            now += 0.02
            events += endpointer.feed(frame, now)
            await asyncio.sleep(BATCH_DELAY_S * 1.5)
        for _ in range(100):  # frames stop: ticks end the utterance on the wall clock
            now += 0.03
            events += endpointer.tick(now)
            await asyncio.sleep(BATCH_DELAY_S * 1.5)
        endpointer.close()
        results.append(events)
    single, together = results
    kinds = [[type(e).__name__ for e in events] for events in results]
    assert kinds[0] == kinds[1] == ["SpeechStarted", "SpeechEnded"] * 2
    window = 0.032 * rate * 2
    for a, b in zip(single, together, strict=True):
        if isinstance(a, SpeechStarted):
            assert isinstance(b, SpeechStarted)
            assert 0 <= b.at - a.at <= 0.021  # one frame later at most
        else:
            assert isinstance(a, SpeechEnded) and isinstance(b, SpeechEnded)
            assert abs(len(a.pcm) - len(b.pcm)) <= 2 * window


async def test_closing_streams_gives_their_state_back() -> None:
    before = sum(open_streams().values())
    streams = [VoiceActivity(16000, batched=True) for _ in range(5)]
    assert sum(open_streams().values()) == before + 5
    for stream in streams:
        stream.feed(speech(16000)[:6400])
        stream.close()  # with windows still queued: the batcher skips them
    await asyncio.sleep(BATCH_DELAY_S * 1.5)
    assert sum(open_streams().values()) == before
    with pytest.raises(RuntimeError, match="closed"):
        streams[0].feed(b"\x00\x00")


def test_the_batcher_outlives_an_event_loop_that_closed() -> None:
    """One batcher per process, many event loops (a test suite): a run scheduled on a loop
    that closed before it came must not keep later loops' windows from being scored."""
    pcm = speech(16000)[: 16000 * 2 // 2]  # 0.5 s: 15 whole windows

    async def feed_and_leave() -> None:
        stream = VoiceActivity(16000, batched=True)
        stream.feed(pcm)  # a run is scheduled on this loop, which closes before it comes
        stream.close()

    async def feed_and_wait() -> list[float]:
        stream = VoiceActivity(16000, batched=True)
        stream.feed(pcm)
        await asyncio.sleep(BATCH_DELAY_S * 3)
        try:
            return stream.ready()
        finally:
            stream.close()

    asyncio.run(feed_and_leave())
    assert len(asyncio.run(feed_and_wait())) == 15


def test_loading_the_model_writes_nothing_under_home(tmp_path: Path) -> None:
    """ONNX Runtime would keep a device id under ~/.cache/Microsoft; the edge turns that off."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    subprocess.run(
        [sys.executable, "-c", "from audiosocket.speech.vad import shared_model as m; m(16000)"],
        env={**env, "HOME": str(home)},
        check=True,
        timeout=120,
    )
    assert list(home.iterdir()) == []
