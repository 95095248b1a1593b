"""OpenAiTranscriber against FakeSpeech over HTTP (its real multipart protocol)."""

from __future__ import annotations

import io
import socket
import time
import wave
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from audiosocket.speech import OpenAiTranscriber, SpeechUnavailable
from tests.audiosocket.speech.audio import speech
from tests.audiosocket.speech.conftest import API_KEY
from tests.support.fake_openai_audio import FakeSpeech


@pytest.fixture
async def transcriber(fake_speech: FakeSpeech) -> AsyncIterator[OpenAiTranscriber]:
    stt = OpenAiTranscriber(fake_speech.base_url, API_KEY, "whisper-1", timeout_s=5.0)
    yield stt
    await stt.aclose()


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_utterance_goes_out_as_wav_and_text_comes_back(
    fake_speech: FakeSpeech, transcriber: OpenAiTranscriber, rate: int
) -> None:
    fake_speech.script("call-a", ["  Где мой заказ?  "])
    fake_speech.script("call-b", ["Алло"])
    pcm = speech(rate)

    assert await transcriber.transcribe(pcm, rate, call_id="call-b") == "Алло"
    assert await transcriber.transcribe(pcm, rate, call_id="call-a") == "Где мой заказ?"
    fake_speech.assert_consumed()

    sent = fake_speech.transcriptions[1]
    assert (sent.call_id, sent.model, sent.language) == ("call-a", "whisper-1", "ru")
    with wave.open(io.BytesIO(sent.audio), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, rate)
        assert audio.readframes(audio.getnframes()) == pcm


async def test_nothing_heard_is_an_empty_string(
    fake_speech: FakeSpeech, transcriber: OpenAiTranscriber
) -> None:
    assert await transcriber.transcribe(b"", 8000, call_id="c") == ""
    assert fake_speech.transcriptions == []  # no request for no audio
    fake_speech.default_transcript = " "
    assert await transcriber.transcribe(bytes(3200), 8000, call_id="c") == ""


async def test_a_wrong_api_key_is_reported_as_such(fake_speech: FakeSpeech) -> None:
    stt = OpenAiTranscriber(fake_speech.base_url, "wrong", "whisper-1")
    with pytest.raises(SpeechUnavailable, match=r"speech-to-text .* refused the API key .*401"):
        await stt.transcribe(bytes(320), 8000, call_id="c")
    await stt.aclose()


async def test_a_service_that_is_down_is_unavailable() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    stt = OpenAiTranscriber(url, "k", "whisper-1", max_retries=0)
    with pytest.raises(SpeechUnavailable, match=rf"speech-to-text .* at {url} is unreachable"):
        await stt.transcribe(bytes(320), 8000, call_id="c")
    await stt.aclose()


async def test_an_outage_is_unavailable_after_one_retry(
    fake_speech: FakeSpeech, transcriber: OpenAiTranscriber
) -> None:
    fake_speech.fail_all(503)
    with pytest.raises(SpeechUnavailable, match="answered HTTP 503"):
        await transcriber.transcribe(bytes(320), 8000, call_id="c")
    assert len(fake_speech.transcriptions) == 2  # the request and one retry


async def test_a_blip_is_retried_once(
    fake_speech: FakeSpeech, transcriber: OpenAiTranscriber
) -> None:
    fake_speech.script("c", ["да"])
    fake_speech.fail_next("c", 500)
    assert await transcriber.transcribe(bytes(320), 8000, call_id="c") == "да"


async def test_a_slow_service_times_out(fake_speech: FakeSpeech) -> None:
    fake_speech.set_latency(3.0)
    stt = OpenAiTranscriber(
        fake_speech.base_url, API_KEY, "whisper-1", timeout_s=0.3, max_retries=0
    )
    started = time.monotonic()
    with pytest.raises(SpeechUnavailable, match="did not answer in time"):
        await stt.transcribe(bytes(320), 8000, call_id="c")
    assert time.monotonic() - started < 2.9  # gave up before the answer came
    await stt.aclose()


async def test_bad_audio_is_refused(transcriber: OpenAiTranscriber) -> None:
    with pytest.raises(ValueError, match="even number"):
        await transcriber.transcribe(b"\x01", 8000, call_id="c")
    with pytest.raises(ValueError, match="positive"):
        await transcriber.transcribe(b"", 0, call_id="c")


async def test_whisper_hallucinations_are_dropped(
    fake_speech: FakeSpeech, transcriber: OpenAiTranscriber
) -> None:
    fake_speech.script(
        "c",
        [
            "Продолжение следует...",
            "Субтитры сделал DimaTorzok",
            "Где мой заказ? Спасибо за просмотр!",
            "Спасибо, до свидания.",
        ],
    )
    heard = [await transcriber.transcribe(bytes(320), 8000, call_id="c") for _ in range(4)]
    assert heard == ["", "", "Где мой заказ?", "Спасибо, до свидания."]
    raw = OpenAiTranscriber(fake_speech.base_url, API_KEY, "whisper-1", filter_hallucinations=False)
    fake_speech.script("c", ["Продолжение следует..."])
    assert await raw.transcribe(bytes(320), 8000, call_id="c") == "Продолжение следует..."
    await raw.aclose()


async def test_an_answer_without_a_transcript_is_unavailable() -> None:
    """A service that answers 200 but not with Whisper's JSON is a broken service, said so."""

    async def not_whisper(_request: web.Request) -> web.Response:
        return web.json_response({"result": "Алло"})

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", not_whisper)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stt = OpenAiTranscriber(f"http://127.0.0.1:{port}/v1", "k", "whisper-1", max_retries=0)
    try:
        with pytest.raises(SpeechUnavailable, match="answered without a transcript"):
            await stt.transcribe(bytes(320), 8000, call_id="c")
    finally:
        await stt.aclose()
        await runner.cleanup()
