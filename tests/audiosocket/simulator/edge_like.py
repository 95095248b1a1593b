"""A small edge-like AudioSocket handler for the simulator's tests: the real AudioSocketServer
with a bot that greets with a tone and answers every caller utterance (end found on the wall
clock, since inbound frames stop during silence) or DTMF digit with another tone."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np

from audiosocket.pacing import FrameSource
from audiosocket.server import AudioSocketServer, Call, HangupReason


def tone(seconds: float, rate: int, *, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """A sine tone as 16-bit LE PCM: clearly 'speech' for the peer's RMS detector."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


@dataclass
class TimedHandler:
    """Records inbound traffic with arrival times; optionally answers like a bot."""

    call: Call
    outbound: FrameSource
    greeting_s: float = 0.0
    reply_s: float = 0.0
    end_silence_s: float = 0.3
    hang_up_after_replies: int | None = None
    barge_in: bool = False  # caller audio cuts the bot's speech, as the real edge does
    cuts: list[float] = field(default_factory=list)
    audio: list[tuple[float, int, bytes]] = field(default_factory=list)
    digits: list[tuple[float, str]] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)
    reasons: list[HangupReason] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ticker: asyncio.Task[None] | None = None
    _last_input: float | None = None  # caller audio or digit not answered yet

    def __post_init__(self) -> None:
        if self.greeting_s:
            self.outbound.enqueue(tone(self.greeting_s, self.outbound.rate))
        if self.reply_s:
            self._ticker = asyncio.create_task(self._tick())

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        now = asyncio.get_running_loop().time()
        self.audio.append((now, rate, pcm))
        self._last_input = now
        if self.barge_in and not self.outbound.idle:
            self.outbound.clear()
            self.cuts.append(now)
        self.changed.set()

    async def on_dtmf(self, digit: str) -> None:
        now = asyncio.get_running_loop().time()
        self.digits.append((now, digit))
        self._last_input = now
        self.changed.set()

    async def on_hangup(self, reason: HangupReason) -> None:
        self.reasons.append(reason)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self.ended.set()

    def _reply(self, now: float) -> None:
        self.replies.append(now)
        self.changed.set()
        self.outbound.enqueue(tone(self.reply_s, self.outbound.rate, hz=660.0))
        limit = self.hang_up_after_replies
        if limit is not None and len(self.replies) >= limit:
            self.call.hangup(after_speech=True)

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until `predicate()` holds, re-checked on each frame, digit or reply."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def _tick(self) -> None:
        """The caller's turn ends when no frame or digit has come for `end_silence_s` of wall
        time (inbound frames stop during caller silence, so counting them would never end)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.02)
            last = self._last_input
            if last is not None and loop.time() - last >= self.end_silence_s:
                self._last_input = None
                self._reply(loop.time())


@dataclass
class EdgeLike:
    server: AudioSocketServer
    handlers: dict[uuid.UUID, TimedHandler]
    created: asyncio.Event

    @property
    def port(self) -> int:
        return self.server.port

    async def handler(self, call_id: uuid.UUID, timeout_s: float = 10.0) -> TimedHandler:
        async with asyncio.timeout(timeout_s):
            while call_id not in self.handlers:
                self.created.clear()
                await self.created.wait()
        return self.handlers[call_id]


@asynccontextmanager
async def edge_like(
    rate: int = 16000,
    *,
    greeting_s: float = 0.0,
    reply_s: float = 0.0,
    hang_up_after_replies: int | None = None,
    barge_in: bool = False,
) -> AsyncIterator[EdgeLike]:
    handlers: dict[uuid.UUID, TimedHandler] = {}
    created = asyncio.Event()

    def factory(call: Call) -> TimedHandler:
        handler = TimedHandler(
            call,
            FrameSource(rate),
            greeting_s=greeting_s,
            reply_s=reply_s,
            hang_up_after_replies=hang_up_after_replies,
            barge_in=barge_in,
        )
        handlers[call.id] = handler
        created.set()
        return handler

    async with AudioSocketServer("127.0.0.1", 0, factory) as server:
        yield EdgeLike(server, handlers, created)
