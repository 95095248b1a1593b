"""Speech providers built from Settings, used end to end against FakeSpeech."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from audiosocket.speech import (
    CachingSynthesizer,
    EspeakSynthesizer,
    OpenAiSynthesizer,
    OpenAiTranscriber,
    build_synthesizer,
    build_transcriber,
)
from core.settings import Settings, TtsProvider
from tests.audiosocket.speech.audio import speech
from tests.audiosocket.speech.conftest import API_KEY
from tests.support.fake_openai_audio import FakeSpeech


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_no_stt_url_means_no_transcriber() -> None:
    assert build_transcriber(settings(stt_base_url=None)) is None


def test_espeak_is_the_default_synthesizer() -> None:
    assert settings().tts_provider is TtsProvider.ESPEAK
    synthesizer = build_synthesizer(settings())
    assert isinstance(synthesizer, CachingSynthesizer)
    assert isinstance(synthesizer.inner, EspeakSynthesizer)


def test_openai_tts_without_a_url_is_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError, match="TTS_BASE_URL"):
        settings(tts_provider="openai")


async def test_configured_services_are_used(fake_speech: FakeSpeech) -> None:
    configured = settings(
        stt_base_url=fake_speech.base_url,
        stt_api_key=API_KEY,
        stt_model="whisper-large",
        tts_provider="openai",
        tts_base_url=fake_speech.base_url,
        tts_api_key=API_KEY,
        tts_model="gpt-4o-mini-tts",
        tts_voice="nova",
    )
    transcriber = build_transcriber(configured)
    synthesizer = build_synthesizer(configured)
    assert isinstance(transcriber, OpenAiTranscriber)
    assert isinstance(synthesizer.inner, OpenAiSynthesizer)

    fake_speech.script("call-1", ["Да"])
    assert await transcriber.transcribe(speech(8000), 8000, call_id="call-1") == "Да"
    audio = b"".join([c async for c in synthesizer.synthesize("Хорошо.", 8000, call_id="call-1")])
    assert audio
    assert fake_speech.transcriptions[0].model == "whisper-large"
    (spoken,) = fake_speech.speeches
    assert (spoken.call_id, spoken.body["model"], spoken.body["voice"]) == (
        "call-1",
        "gpt-4o-mini-tts",
        "nova",
    )
    await transcriber.aclose()
    await synthesizer.inner.aclose()
