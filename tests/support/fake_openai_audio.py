"""A fake OpenAI-compatible speech service: transcriptions (STT) and speech (TTS).

Same server machinery as the fake LLM (auth, latency, `fail_next`/`fail_all`). The
conversation of a request is the `X-Call-Id` header (`CALL_ID_HEADER`); requests without it
belong to `ANONYMOUS`, so a script under `ANONYMOUS` is served in request order.
"""

from __future__ import annotations

import asyncio
import io
import math
import wave
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
from aiohttp import web

from tests.support.fake_llm import (
    ANONYMOUS,
    CALL_ID_HEADER,
    FakeOpenAIServer,
    Json,
    invalid,
    json_body,
)

SPEECH_SAMPLE_RATE: Final = 24_000  # what the OpenAI speech API uses for wav and pcm
SECONDS_PER_CHAR: Final = 0.06  # about a calm Russian speaking rate
_MAX_INPUT: Final = 4096
STREAM_PIECE_SECONDS: Final = 0.1  # audio per piece when `set_latency(per_chunk=...)` streams


@dataclass(frozen=True)
class Transcription:
    """One transcription request as received."""

    call_id: str
    model: str
    language: str | None
    response_format: str
    prompt: str | None
    filename: str | None
    audio: bytes


@dataclass(frozen=True)
class Speech:
    """One speech request as received."""

    call_id: str
    body: Json


class FakeSpeech(FakeOpenAIServer):
    """`POST /v1/audio/transcriptions` and `POST /v1/audio/speech`.

    Speech is silence, or a sine at `tone_hz` (audible, but silero VAD does not call it
    speech), lasting `SECONDS_PER_CHAR` per input character divided by `speed`. Only `wav`
    and `pcm` are offered: telephony wants raw PCM, and an mp3 request is a configuration
    mistake here.
    With `set_latency(..., per_chunk=d)` the audio is streamed in 100 ms pieces `d` apart.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        default_transcript: str = "",
        tone_hz: float | None = None,
        seconds_per_char: float = SECONDS_PER_CHAR,
    ) -> None:
        super().__init__(api_key=api_key)
        self.default_transcript = default_transcript
        self.tone_hz = tone_hz
        self.seconds_per_char = seconds_per_char
        self.transcriptions: list[Transcription] = []
        self.speeches: list[Speech] = []
        self._scripts: dict[str, deque[str]] = {}
        self._overruns: Counter[str] = Counter()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speak)

    def script(self, call_id: str, transcripts: Iterable[str]) -> None:
        """Queue what the caller "said", one text per transcription request."""
        self._scripts.setdefault(call_id, deque()).extend(transcripts)

    def unconsumed(self, call_id: str) -> list[str]:
        return list(self._scripts.get(call_id, ()))

    def overruns(self, call_id: str) -> int:
        return self._overruns[call_id]

    def assert_consumed(self, call_id: str | None = None, *, allow_default: bool = False) -> None:
        calls = [call_id] if call_id is not None else sorted(self._scripts.keys() | self._overruns)
        failures = [
            f"call {call!r}: transcripts not served: {self.unconsumed(call)}"
            for call in calls
            if self.unconsumed(call)
        ]
        failures += [
            f"call {call!r}: {self._overruns[call]} transcriptions after the script ended"
            for call in calls
            if self._overruns[call] and not allow_default
        ]
        if failures:
            raise AssertionError("fake speech:\n" + "\n".join(failures))

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        self._authorize(request)
        call_id = request.headers.get(CALL_ID_HEADER) or ANONYMOUS
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise invalid("Missing required parameter: 'file'.", "file")
        model = form.get("model")
        if not isinstance(model, str) or not model:
            raise invalid("you must provide a model parameter", "model")
        response_format = str(form.get("response_format") or "json")
        if response_format not in ("json", "text", "verbose_json"):
            raise invalid(f"the fake speech service does not offer {response_format!r}")
        audio = upload.file.read()
        language, prompt = form.get("language"), form.get("prompt")
        self.transcriptions.append(
            Transcription(
                call_id,
                model,
                language if isinstance(language, str) else None,
                response_format,
                prompt if isinstance(prompt, str) else None,
                upload.filename,
                audio,
            )
        )
        await self._gate(request, call_id)
        text = self._next_transcript(call_id)
        if response_format == "text":
            return web.Response(text=text + "\n")
        if response_format == "verbose_json":
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": "russian",
                    "duration": wav_duration(audio),
                    "text": text,
                    "segments": [],
                }
            )
        return web.json_response({"text": text})

    def _next_transcript(self, call_id: str) -> str:
        queue = self._scripts.get(call_id)
        if queue:
            return queue.popleft()
        self._overruns[call_id] += 1
        return self.default_transcript

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        self._authorize(request)
        call_id = request.headers.get(CALL_ID_HEADER) or ANONYMOUS
        body = await json_body(request)
        self.speeches.append(Speech(call_id, body))
        text = body.get("input")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise invalid("you must provide a model parameter", "model")
        if not isinstance(text, str) or not text or len(text) > _MAX_INPUT:
            raise invalid(f"'input' must be a string of 1 to {_MAX_INPUT} characters.", "input")
        if not body.get("voice"):
            raise invalid("Missing required parameter: 'voice'.", "voice")
        speed = body.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise invalid("'speed' must be a number from 0.25 to 4.0.", "speed")
        audio_format = body.get("response_format", "mp3")
        if audio_format not in ("wav", "pcm"):
            raise invalid(
                f"the fake speech service speaks only wav and pcm, not {audio_format!r}",
                "response_format",
            )
        if body.get("stream_format", "audio") != "audio":
            raise invalid("the fake speech service does not stream SSE", "stream_format")
        # Made while the latency runs: the first byte is due at the configured latency.
        pcm = synthesize(len(text) * self.seconds_per_char / speed, self.tone_hz)
        body_bytes = pcm if audio_format == "pcm" else to_wav(pcm)
        await self._gate(request, call_id)
        content_type = f"audio/{audio_format}"
        if not self.chunk_delay:
            return web.Response(body=body_bytes, content_type=content_type)
        return await self._stream_audio(request, body_bytes, content_type)

    async def _stream_audio(
        self, request: web.Request, audio: bytes, content_type: str
    ) -> web.StreamResponse:
        """The audio in pieces of `STREAM_PIECE_SECONDS`, `chunk_delay` apart (chunked), as a
        real service streams speech while it is still being generated."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        piece = 2 * round(STREAM_PIECE_SECONDS * SPEECH_SAMPLE_RATE)
        try:
            for start in range(0, len(audio), piece):
                if start:
                    await asyncio.sleep(self.chunk_delay)
                await response.write(audio[start : start + piece])
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading (e.g. barge-in)
        return response


def synthesize(
    seconds: float, tone_hz: float | None, sample_rate: int = SPEECH_SAMPLE_RATE
) -> bytes:
    """16-bit mono PCM: silence, or a sine at a third of full scale."""
    count = round(seconds * sample_rate)
    if tone_hz is None:
        return bytes(2 * count)
    step = 2 * math.pi * tone_hz / sample_rate
    samples = np.rint(10_000 * np.sin(step * np.arange(count)))
    return bytes(samples.astype("<i2").tobytes())


def to_wav(pcm: bytes, sample_rate: int = SPEECH_SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def wav_duration(audio: bytes) -> float:
    """Seconds of a WAV file; 0.0 for anything else (the fake does not decode other formats)."""
    try:
        with wave.open(io.BytesIO(audio), "rb") as source:
            return source.getnframes() / source.getframerate()
    except (wave.Error, EOFError):
        return 0.0
