"""A recording (optionally echoing) CallHandler for tests; not a production feature."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from audiosocket.pacing import FrameSource
from audiosocket.server import Call, HangupReason


@dataclass
class RecordingHandler:
    """Keeps everything the call delivered; `echo` plays inbound audio straight back."""

    call: Call
    outbound: FrameSource
    echo: bool = False
    audio: list[tuple[int, bytes]] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    reasons: list[HangupReason] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    dtmf_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        self.audio.append((rate, pcm))
        if self.echo:
            self.outbound.enqueue(pcm)

    async def on_dtmf(self, digit: str) -> None:
        self.digits.append(digit)
        self.dtmf_seen.set()

    async def on_hangup(self, reason: HangupReason) -> None:
        self.reasons.append(reason)
        self.ended.set()
