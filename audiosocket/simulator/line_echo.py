"""The bot's own voice coming back on the simulated line, as handsets and hybrids return it:
quieter by `attenuation_db` and `delay_ms` later. The peer mixes it into what it sends, so a
line with echo sends audio all the time, as a real one does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

# The echo waiting to be sent stays this short (a second): were the peer's clock slower
# than the edge's, the backlog would otherwise grow and the delay with it.
_MAX_BACKLOG_FRAMES = 50


@dataclass(frozen=True)
class LineEcho:
    """How much quieter (dB) and how much later (ms) the line returns the bot's voice."""

    attenuation_db: float
    delay_ms: int

    def __post_init__(self) -> None:
        if self.attenuation_db < 0:
            raise ValueError(f"echo attenuation must be ≥ 0 dB, not {self.attenuation_db}")
        if not 0 <= self.delay_ms <= 2000:
            raise ValueError(f"echo delay must be 0–2000 ms, not {self.delay_ms}")

    @property
    def gain(self) -> float:
        return float(10 ** (-self.attenuation_db / 20))


class EchoPath:
    """Bot frames in (when they arrived), the echo out (when it is due)."""

    def __init__(self, echo: LineEcho, rate: int) -> None:
        self.echo = echo
        self.rate = rate
        self._pending: deque[tuple[float, bytes]] = deque()  # (due, echo pcm)
        self._ready = bytearray()

    def heard(self, pcm: bytes, rate: int, at: float) -> None:
        """A bot frame arrived at `at`."""
        if rate != self.rate:
            from audiosocket.speech.resample import resample

            pcm = resample(pcm, rate, self.rate)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) * self.echo.gain
        echo = np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
        self._pending.append((at + self.echo.delay_ms / 1000, echo))

    def take(self, now: float, size: int) -> bytes:
        """`size` bytes of echo due by `now` (the end of the line's slot; silence where none
        is due yet)."""
        while self._pending and self._pending[0][0] <= now:
            self._ready += self._pending.popleft()[1]
        excess = len(self._ready) - _MAX_BACKLOG_FRAMES * size
        if excess > 0:
            del self._ready[:excess]
        out = bytes(self._ready[:size])
        del self._ready[:size]
        return out.ljust(size, b"\x00")


def mix(a: bytes, b: bytes) -> bytes:
    """Two 16-bit PCM chunks of one length added, saturating as a codec would."""
    total = np.frombuffer(a, dtype="<i2").astype(np.int32) + np.frombuffer(b, dtype="<i2")
    mixed: bytes = np.clip(total, -32768, 32767).astype("<i2").tobytes()
    return mixed
