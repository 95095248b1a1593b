"""Speech-to-text through any OpenAI-compatible `/audio/transcriptions` endpoint."""

from __future__ import annotations

import io
import wave

import openai

from audiosocket.speech.base import CALL_ID_HEADER
from audiosocket.speech.hallucinations import drop_hallucinations
from audiosocket.speech.openai_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    client,
    unavailable,
)
from audiosocket.speech.resample import SAMPLE_WIDTH


def to_wav(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM wrapped in a WAV header (what transcription endpoints accept)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


class OpenAiTranscriber:
    """Sends each utterance as an in-memory WAV; the service's text comes back stripped and
    without Whisper's known hallucinations (see `hallucinations.py`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        language: str = "ru",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        prompt: str | None = None,
        filter_hallucinations: bool = True,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.language = language
        self.prompt = prompt
        self.filter_hallucinations = filter_hallucinations
        self._client = client(base_url, api_key, timeout_s, max_retries)

    async def transcribe(self, pcm: bytes, rate: int, *, call_id: str) -> str:
        if rate <= 0:
            raise ValueError(f"sample rate must be positive, not {rate}")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"16-bit PCM must have an even number of bytes, got {len(pcm)}")
        if not pcm:
            return ""
        try:
            result = await self._client.audio.transcriptions.create(
                model=self.model,
                file=("utterance.wav", to_wav(pcm, rate), "audio/wav"),
                language=self.language,
                response_format="json",
                prompt=self.prompt if self.prompt is not None else openai.omit,
                extra_headers={CALL_ID_HEADER: call_id},
            )
        except openai.OpenAIError as error:
            raise unavailable(f"speech-to-text ({self.model})", self.base_url, error) from error
        text = result.text.strip()
        return drop_hallucinations(text) if self.filter_hallucinations else text

    async def aclose(self) -> None:
        await self._client.close()
