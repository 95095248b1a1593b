"""Speech providers from the process settings (STT_*, TTS_*)."""

from __future__ import annotations

from audiosocket.speech.base import Synthesizer, Transcriber
from audiosocket.speech.cache import CachingSynthesizer
from audiosocket.speech.stt import OpenAiTranscriber
from audiosocket.speech.tts_espeak import EspeakSynthesizer
from audiosocket.speech.tts_openai import OpenAiSynthesizer
from core.settings import Settings, TtsProvider


def build_transcriber(settings: Settings) -> Transcriber | None:
    """None when STT_BASE_URL is unset (the edge then cannot understand callers)."""
    if not settings.stt_base_url:
        return None
    return OpenAiTranscriber(settings.stt_base_url, settings.stt_api_key, settings.stt_model)


def build_synthesizer(settings: Settings) -> CachingSynthesizer:
    """espeak-ng (checked to load now) or an OpenAI-compatible service, behind a cache of
    recent phrases; raises SpeechUnavailable when espeak-ng cannot be loaded."""
    provider: Synthesizer
    if settings.tts_provider is TtsProvider.OPENAI:
        if not settings.tts_base_url:  # Settings refuses this too; kept for a clear message
            raise ValueError("TTS_PROVIDER=openai needs TTS_BASE_URL")
        provider = OpenAiSynthesizer(
            settings.tts_base_url, settings.tts_api_key, settings.tts_model, settings.tts_voice
        )
    else:
        espeak = EspeakSynthesizer()
        espeak.check()  # a broken install fails the edge's start with a clear message
        provider = espeak
    return CachingSynthesizer(provider)
