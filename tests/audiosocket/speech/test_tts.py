"""Text-to-speech: real espeak-ng, and OpenAI speech through FakeSpeech over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from audiosocket.speech import (
    EspeakSynthesizer,
    OpenAiSynthesizer,
    SpeechUnavailable,
    VoiceActivity,
    synthesize_to_pcm,
)
from audiosocket.speech.tts_espeak import engine
from tests.audiosocket.speech.audio import rms, seconds
from tests.audiosocket.speech.conftest import API_KEY
from tests.support.fake_openai_audio import SECONDS_PER_CHAR, FakeSpeech

SENTENCES = [
    "Здравствуйте, это магазин.",
    "Ваш заказ номер сто два уже собран.",
    "Курьер приедет завтра с десяти до двенадцати.",
    "Чем ещё могу помочь?",
]
TEXT = " ".join(SENTENCES)


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def test_espeak_library_and_voice_data_are_found_offline() -> None:
    from pathlib import Path

    import espeakng_loader  # type: ignore[import-untyped]

    assert Path(espeakng_loader.get_library_path()).is_file()
    assert (Path(espeakng_loader.get_data_path()) / "ru_dict").is_file()
    assert engine().speak("Да.", "ru", 165)  # initialises from those paths


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_espeak_speaks_russian_at_the_call_rate(rate: int) -> None:
    chunks = await collect(EspeakSynthesizer().synthesize(TEXT, rate, call_id="c"))
    assert chunks and all(len(chunk) % 2 == 0 and chunk for chunk in chunks)
    pcm = b"".join(chunks)
    # about 2.5 words a second: 22 words take several seconds, not a blip or a minute
    assert 5.0 <= seconds(pcm, rate) <= 15.0
    assert rms(pcm) > 500
    vad = VoiceActivity(rate)
    scores = vad.feed(pcm)
    vad.close()
    assert np.mean(scores) > 0.5  # it is speech to the VAD, not a tone


async def test_first_audio_comes_before_the_rest_is_synthesized() -> None:
    spoken: list[str] = []

    class Recording(EspeakSynthesizer):
        def _speak(self, sentence: str) -> list[bytes]:
            spoken.append(sentence)
            return super()._speak(sentence)

    stream = Recording().synthesize(TEXT, 8000, call_id="c")
    first = await anext(stream)
    assert spoken == SENTENCES[:1] and first
    rest = await collect(stream)
    assert spoken == SENTENCES and rest


async def test_stopping_early_synthesizes_no_more(rate: int = 16000) -> None:
    spoken: list[str] = []

    class Recording(EspeakSynthesizer):
        def _speak(self, sentence: str) -> list[bytes]:
            spoken.append(sentence)
            return super()._speak(sentence)

    stream = Recording().synthesize(TEXT, rate, call_id="c")
    assert await anext(stream)
    await stream.aclose()  # barge-in
    assert spoken == SENTENCES[:1]


async def test_espeak_never_blocks_the_event_loop() -> None:
    long_text = TEXT * 25  # about four minutes of speech
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    chunks = await collect(EspeakSynthesizer().synthesize(long_text, 16000, call_id="c"))
    done.set()
    await beating
    assert seconds(b"".join(chunks), 16000) > 120
    # generous: only a loaded machine's scheduling, never a whole synthesis, fits in here
    assert max(gaps) < 0.5


async def test_concurrent_calls_get_their_own_audio() -> None:
    synthesizer = EspeakSynthesizer()

    async def say(sentence: str) -> bytes:
        return b"".join(await collect(synthesizer.synthesize(sentence, 8000, call_id="c")))

    alone = [await say(sentence) for sentence in SENTENCES]
    together = await asyncio.gather(*(say(sentence) for sentence in SENTENCES))
    # espeak varies a sample here and there (pitch flutter), so compare lengths: the four
    # sentences differ enough that any audio going to the wrong call would show
    for mine, reference in zip(together, alone, strict=True):
        assert len(mine) == pytest.approx(len(reference), rel=0.02)
    lengths = sorted(len(pcm) for pcm in alone)
    assert all(longer > 1.1 * shorter for shorter, longer in itertools.pairwise(lengths))


def test_synthesize_to_pcm_gives_the_whole_utterance() -> None:
    pcm8, pcm16 = synthesize_to_pcm(TEXT, 8000), synthesize_to_pcm(TEXT, 16000)
    assert seconds(pcm8, 8000) == pytest.approx(seconds(pcm16, 16000), abs=0.01)
    assert 5.0 <= seconds(pcm8, 8000) <= 15.0 and rms(pcm8) > 500


async def test_espeak_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        await collect(EspeakSynthesizer().synthesize("Да.", 44100, call_id="c"))
    unknown = EspeakSynthesizer(voice="xx-nonexistent")
    with pytest.raises(SpeechUnavailable, match="no voice 'xx-nonexistent'"):
        unknown.check()
    with pytest.raises(SpeechUnavailable, match="no voice 'xx-nonexistent'"):
        await collect(unknown.synthesize("Да.", 8000, call_id="c"))
    EspeakSynthesizer().check()
    assert await collect(EspeakSynthesizer().synthesize("  \n ", 8000, call_id="c")) == []
    # the engine still works for everyone else afterwards
    assert await collect(EspeakSynthesizer().synthesize("Да.", 8000, call_id="c"))


# --- OpenAI-compatible speech ------------------------------------------------------------


@pytest.fixture
async def openai_tts(fake_speech: FakeSpeech) -> AsyncIterator[OpenAiSynthesizer]:
    tts = OpenAiSynthesizer(fake_speech.base_url, API_KEY, "tts-1", "alloy")
    yield tts
    await tts.aclose()


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_openai_speech_is_streamed_pcm_resampled_to_the_call_rate(
    fake_speech: FakeSpeech, openai_tts: OpenAiSynthesizer, rate: int
) -> None:
    text = "Ваш заказ уже в пути."
    chunks = await collect(openai_tts.synthesize(text, rate, call_id="call-7"))
    assert chunks and all(len(chunk) % 2 == 0 for chunk in chunks)
    pcm = b"".join(chunks)
    assert seconds(pcm, rate) == pytest.approx(len(text) * SECONDS_PER_CHAR, abs=0.01)
    assert rms(pcm) > 3000  # the fake's 440 Hz tone survived resampling
    (request,) = fake_speech.speeches
    assert request.call_id == "call-7"
    assert request.body["response_format"] == "pcm"
    assert (request.body["model"], request.body["voice"], request.body["input"]) == (
        "tts-1",
        "alloy",
        text,
    )


async def test_openai_speech_failures_are_unavailable(
    fake_speech: FakeSpeech, openai_tts: OpenAiSynthesizer
) -> None:
    fake_speech.fail_all(503)
    with pytest.raises(SpeechUnavailable, match=r"text-to-speech \(tts-1\) .* HTTP 503"):
        await collect(openai_tts.synthesize("Да.", 8000, call_id="c"))
    fake_speech.recover()
    wrong_key = OpenAiSynthesizer(fake_speech.base_url, "wrong", "tts-1", "alloy")
    with pytest.raises(SpeechUnavailable, match="refused the API key"):
        await collect(wrong_key.synthesize("Да.", 8000, call_id="c"))
    await wrong_key.aclose()


async def test_openai_speech_of_nothing_sends_nothing(
    fake_speech: FakeSpeech, openai_tts: OpenAiSynthesizer
) -> None:
    assert await collect(openai_tts.synthesize("   ", 8000, call_id="c")) == []
    assert fake_speech.speeches == []


async def test_openai_speech_of_a_text_over_the_api_limit_goes_in_parts() -> None:
    text = " ".join(["Ваш заказ уже в пути."] * 200)  # 4399 characters; the API takes 4096
    async with FakeSpeech(api_key=API_KEY) as fake:  # silence: quick to make this much
        tts = OpenAiSynthesizer(fake.base_url, API_KEY, "tts-1", "alloy")
        pcm = b"".join(await collect(tts.synthesize(text, 8000, call_id="c")))
        await tts.aclose()
    inputs = [request.body["input"] for request in fake.speeches]
    assert len(inputs) > 1 and all(len(part) <= 4096 for part in inputs)
    assert " ".join(inputs) == text
    spoken = sum(len(part) for part in inputs)
    assert seconds(pcm, 8000) == pytest.approx(spoken * SECONDS_PER_CHAR, abs=0.02)


async def test_openai_speech_plays_before_the_service_has_finished(
    fake_speech: FakeSpeech, openai_tts: OpenAiSynthesizer
) -> None:
    fake_speech.set_latency(0.0, per_chunk=0.1)  # 100 ms pieces, 100 ms apart
    text = "Ваш заказ уже в пути."  # 1.26 s of audio: 13 pieces, 1.2 s of streaming
    arrivals: list[tuple[float, bytes]] = []
    async for chunk in openai_tts.synthesize(text, 8000, call_id="c"):
        arrivals.append((time.monotonic(), chunk))
    assert arrivals[-1][0] - arrivals[0][0] > 0.6  # the first came long before the last
    pcm = b"".join(chunk for _, chunk in arrivals)
    assert seconds(pcm, 8000) == pytest.approx(len(text) * SECONDS_PER_CHAR, abs=0.01)
    assert all(len(chunk) % 2 == 0 for _, chunk in arrivals)


async def test_openai_speech_broken_off_mid_stream_is_unavailable() -> None:
    async def half_then_hang_up(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(bytes(9600))  # 200 ms of audio, then the connection drops
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_post("/v1/audio/speech", half_then_hang_up)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    tts = OpenAiSynthesizer(url, "k", "tts-1", "alloy", max_retries=0)
    try:
        with pytest.raises(SpeechUnavailable, match="broke off mid-stream"):
            await collect(tts.synthesize("Ваш заказ уже в пути.", 8000, call_id="c"))
    finally:
        await tts.aclose()
        await runner.cleanup()


def test_missing_espeak_data_is_an_error_not_an_exit() -> None:
    # espeak-ng exits the process when its data is missing unless told not to; run it in a
    # child process so a regression cannot take the test session with it
    script = """
import espeakng_loader
from audiosocket.speech import SpeechUnavailable
from audiosocket.speech.tts_espeak import EspeakSynthesizer
espeakng_loader.get_data_path = lambda: "/nonexistent/espeak-ng-data"
try:
    EspeakSynthesizer().check()
except SpeechUnavailable as error:
    print("unavailable:", error)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "unavailable: espeak-ng did not initialise with its data at /nonexistent" in done.stdout
