"""Speech-to-text through any OpenAI-compatible `/audio/transcriptions` endpoint."""

from __future__ import annotations

import io
import json
import wave

import aiohttp

from audiosocket.speech.hallucinations import drop_hallucinations
from audiosocket.speech.openai_client import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, AudioApi
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
        self._api = AudioApi(
            f"speech-to-text ({model})",
            base_url,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )

    async def transcribe(self, pcm: bytes, rate: int, *, call_id: str) -> str:
        if rate <= 0:
            raise ValueError(f"sample rate must be positive, not {rate}")
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"16-bit PCM must have an even number of bytes, got {len(pcm)}")
        if not pcm:
            return ""
        wav = to_wav(pcm, rate)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("file", wav, filename="utterance.wav", content_type="audio/wav")
            data.add_field("model", self.model)
            data.add_field("language", self.language)
            data.add_field("response_format", "json")
            if self.prompt is not None:
                data.add_field("prompt", self.prompt)
            return data

        async with self._api.post("/audio/transcriptions", call_id=call_id, form=form) as answer:
            try:
                text = json.loads(await answer.text())["text"]
            except (aiohttp.ClientError, TimeoutError) as error:
                raise self._api.broke_off(error) from error
            except (ValueError, KeyError, TypeError) as error:
                raise self._api.unavailable("answered without a transcript") from error
        if not isinstance(text, str):
            raise self._api.unavailable("answered without a transcript")
        text = text.strip()
        return drop_hallucinations(text) if self.filter_hallucinations else text

    async def aclose(self) -> None:
        await self._api.aclose()
