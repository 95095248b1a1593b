"""The rate the bot speaks at when nobody announced the line's rate: the caller's.

A Stasis leg's rate is known before its first frame (externalMedia's `format`). Any other
connection comes from the dialplan, either `AudioSocket()` (always 8 kHz, kind 0x10) or
`Dial(AudioSocket/host:port/uuid/c(slin16))` (16 kHz, 0x12), and nothing tells which until
the caller's first frame. The edge speaks first (silence from the first moment, then the
greeting), so:

- silence goes out at 8 kHz until the caller's rate is known: every Asterisk takes 0x10;
- the greeting waits for the caller's first frame a short, bounded moment counted from the
  connection (`first_frame_wait_s`). The workflow's start runs meanwhile, so the wait
  usually costs nothing; a caller whose line sends nothing while they are silent (no
  `transmit_silence`) is greeted at 8 kHz after at most that moment;
- once the caller's frames turn out to be 16 kHz, the bot speaks 16 kHz from the next
  moment it is silent: between replies, never inside one.

Sending 0x12 only after Asterisk sent 0x12 is what makes it safe: an Asterisk older than
20.17 knows no 0x12 and ends the call on one, while one that sends it takes every frame at
the rate its kind says (chan_audiosocket and the AudioSocket() app set the frame's format
from its kind, and the core translates from whatever format arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

# The rates the bot can speak (AudioSocket kinds 0x10 and 0x12; what TTS and VAD take).
SPEAKABLE_RATES: Final = (8000, 16000)
# What every Asterisk takes: the rate of a line nobody announced, until the caller's tells.
FALLBACK_RATE: Final = 8000


class LineRate:
    """The outbound rate one call should have; `follows_caller` for a dialplan connection."""

    def __init__(self, rate: int, *, follows_caller: bool) -> None:
        self.rate = rate  # what the bot should speak at now
        self.follows_caller = follows_caller
        self.caller_rate: int | None = None  # of the caller's last frame
        self._heard = asyncio.Event()

    def caller_frame(self, rate: int) -> None:
        """The caller's frames are at `rate` (called when it changes)."""
        self.caller_rate = rate
        self._heard.set()
        if self.follows_caller and rate in SPEAKABLE_RATES:
            self.rate = rate

    async def first_frame(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the caller's first frame; True once one came."""
        if self._heard.is_set() or timeout_s <= 0:
            return self._heard.is_set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._heard.wait()
        return self._heard.is_set()
