"""Every call's outbound frames sent from one timer: the 20 ms clocks of all calls of a server.

Each call has its own `SendClock` (its own grid, started when it connected), exactly as with a
send task per call; what is shared is the waking up. A task per call slept and woke 50 times a
second — a timer, a future and a task step for every frame — and at a few hundred calls that
bookkeeping cost the event loop more than sending did (bench/streams.py, profile in
docs/benchmarks.md). Here one timer wakes for the earliest frame due and sends every frame due
within `BATCH_SECONDS` after it, so wake-ups no longer grow with the number of calls.

A frame may thus leave up to `lead + BATCH_SECONDS` (22 ms) before its slot, well inside the
60 ms Asterisk tolerates (pacing.py). Speech queued into a silent call is sent at once: its
clock moves to it (`SendClock.start_now`) and the call is woken now, not at its next slot.

A peer that stops reading is not buffered without end: while its socket holds more than
`HIGH_WATER` bytes, its frames wait, and the clock skips the slots that passed, as it does
after any stall.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
from typing import TYPE_CHECKING

from audiosocket.pacing import FrameSource, SendClock
from audiosocket.protocol import AUDIO_KINDS, HEADER, Audio, Hangup, encode

if TYPE_CHECKING:
    from audiosocket.server import Call

BATCH_SECONDS = 0.002
# What a reading peer never has queued (a few frames); asyncio's own default high-water mark.
HIGH_WATER = 64 * 1024
_HANGUP = encode(Hangup())


class BotHangup(Exception):
    """The call's 0x00 went out: the bot ended the call."""


class Outbound:
    """One call's place in the sender; `done` ends (with BotHangup, or the error that broke
    the sending) when the call's outbound side is over."""

    __slots__ = (
        "_draining",
        "_header",
        "_header_rate",
        "call",
        "clock",
        "done",
        "next_at",
        "scheduled",
        "source",
        "transport",
    )

    def __init__(
        self, call: Call, source: FrameSource, transport: asyncio.WriteTransport, now: float
    ) -> None:
        self.call = call
        self.source = source
        self.transport = transport
        self.clock = SendClock(now)
        call.stats = self.clock.stats
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.next_at = now
        self.scheduled = -1  # the sender's entry for this call that counts (older ones are stale)
        self._draining = False
        # Every frame of a FrameSource is whole (a short tail is padded), so one header fits
        # all; encode() checks the first, so a rate AudioSocket has no kind for fails here.
        encode(Audio(source.rate, source.silence))
        self._header_rate = source.rate
        self._header = HEADER.pack(AUDIO_KINDS[source.rate], source.frame_size)

    @property
    def draining(self) -> bool:
        """The bot hung up and the last frame is still playing out."""
        return self._draining

    def step(self, now: float) -> None:
        """Send what is due at `now` and set `next_at`; ends `done` when the call is over."""
        call, clock, source, transport = self.call, self.clock, self.source, self.transport
        if transport.is_closing():
            self.done.set_exception(ConnectionResetError("the connection is closed"))
            return
        if self._draining or call.hangup_due(source):
            last_plays_until = clock.due(clock.index)
            if call.drains_speech and now < last_plays_until:
                # Frames go out up to `lead` early; let the last one finish playing, since
                # Asterisk drops the channel ~2 ms after reading 0x00.
                self._draining = True
                self.next_at = last_plays_until
                return
            transport.write(_HANGUP)
            self.done.set_exception(BotHangup())
            return
        if transport.get_write_buffer_size() > HIGH_WATER:
            self.next_at = now + clock.interval  # the peer is not reading; try again later
            return
        clock.take(now)
        # One write per message: header and payload leave together.
        frame = source.next_frame()
        if clock.advanced and frame is source.silence and source.idle:
            clock.settle()  # speech started early and is over: back to the call's own grid
        if source.rate != self._header_rate:
            # The call speaks at the caller's rate from now on (a wideband dialplan line,
            # audiosocket/line_rate.py): the cached header follows.
            self._header_rate = source.rate
            self._header = HEADER.pack(AUDIO_KINDS[source.rate], source.frame_size)
        if len(frame) == source.frame_size:
            transport.write(self._header + frame)
        else:  # a source that hands out odd sizes still gets a correct header
            transport.write(encode(Audio(source.rate, frame)))
        self.next_at = clock.due(clock.index) - clock.lead


class FrameSender:
    """The send clocks of one server's calls, driven by a single timer on the running loop."""

    def __init__(self, batch_s: float = BATCH_SECONDS) -> None:
        self._loop = asyncio.get_running_loop()
        self._batch_s = batch_s
        self._heap: list[tuple[float, int, Outbound]] = []
        self._order = itertools.count()  # ties in time never compare Outbounds
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def add(self, call: Call, source: FrameSource, transport: asyncio.WriteTransport) -> Outbound:
        """Start sending for a call: its first frame (silence, or 0x00 for a refused call)
        leaves now, the rest on its clock."""
        now = self._loop.time()
        outbound = Outbound(call, source, transport, now)
        source.on_speech = functools.partial(self._speech_queued, outbound)
        self._advance(outbound, now)
        return outbound

    def _speech_queued(self, outbound: Outbound) -> None:
        """Speech was queued into a silent call: its first frame goes now, not at its slot."""
        if outbound.done.done() or outbound.draining or outbound.source.holding:
            return
        now = self._loop.time()
        if outbound.clock.start_now(now):
            outbound.next_at = now
            self._schedule(outbound)

    @staticmethod
    def remove(outbound: Outbound) -> None:
        """The call is over: its entry is dropped when next due."""
        if not outbound.done.done():
            outbound.done.cancel()

    def _advance(self, outbound: Outbound, now: float) -> None:
        try:
            outbound.step(now)
        except Exception as exc:  # a broken source or transport ends this call only
            if not outbound.done.done():
                outbound.done.set_exception(exc)
        if outbound.done.done():
            return
        self._schedule(outbound)

    def _schedule(self, outbound: Outbound) -> None:
        outbound.scheduled = entry = next(self._order)
        heapq.heappush(self._heap, (outbound.next_at, entry, outbound))
        self._wake_at(outbound.next_at)

    def _wake_at(self, when: float) -> None:
        if when >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        heap = self._heap
        now = self._loop.time()
        horizon = now + self._batch_s
        due: list[Outbound] = []
        while heap and heap[0][0] <= horizon:
            _, entry, outbound = heapq.heappop(heap)
            if entry == outbound.scheduled:  # not one a sooner start replaced
                due.append(outbound)
        for outbound in due:
            if not outbound.done.done():
                self._advance(outbound, now)
        if heap:
            self._wake_at(heap[0][0])
