"""Text-to-speech through any OpenAI-compatible `/audio/speech` endpoint.

`response_format="pcm"` is raw 16-bit mono PCM at 24 kHz (no header to parse); the body is
streamed and resampled as it arrives, so playback can start before the service is done.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Final

import aiohttp

from audiosocket.speech.base import check_output_rate
from audiosocket.speech.openai_client import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, AudioApi
from audiosocket.speech.resample import StreamResampler
from audiosocket.speech.text import split_sentences

OPENAI_PCM_RATE: Final = 24_000
MAX_INPUT_CHARS: Final = 4096  # the API's limit per request


class OpenAiSynthesizer:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        voice: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        speed: float | None = None,
    ) -> None:
        if speed is not None and not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be from 0.25 to 4.0, not {speed}")
        self.base_url = base_url
        self.model = model
        self.voice = voice
        self.speed = speed
        self._api = AudioApi(
            f"text-to-speech ({model})",
            base_url,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )

    async def synthesize(
        self, text: str, rate: int, *, call_id: str
    ) -> AsyncGenerator[bytes, None]:
        check_output_rate(rate)
        # The edge sends a sentence at a time; only an over-long text needs several requests.
        parts = split_sentences(text, MAX_INPUT_CHARS) if len(text) > MAX_INPUT_CHARS else [text]
        for part in parts:
            if part.strip():
                async for chunk in self._speak(part.strip(), rate, call_id):
                    yield chunk

    async def _speak(self, text: str, rate: int, call_id: str) -> AsyncGenerator[bytes, None]:
        resampler = StreamResampler(OPENAI_PCM_RATE, rate)
        body: dict[str, Any] = {
            "model": self.model,
            "voice": self.voice,
            "input": text,
            "response_format": "pcm",
        }
        if self.speed is not None:
            body["speed"] = self.speed
        async with self._api.post("/audio/speech", call_id=call_id, body=body) as answer:
            try:
                # Whatever has arrived, at once: waiting to fill a buffer first would hold
                # back the first audio of a service that streams in small pieces.
                async for piece in answer.content.iter_any():
                    if chunk := resampler.feed(piece):
                        yield chunk
            except (aiohttp.ClientError, TimeoutError) as error:
                raise self._api.broke_off(error) from error
        if tail := resampler.flush():
            yield tail

    async def aclose(self) -> None:
        await self._api.aclose()
