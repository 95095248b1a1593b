"""The edge owns the clock: outbound audio goes out on an absolute 20 ms grid.

AudioSocket has no pacing and no jitter buffer on the Asterisk side, so bursts get dropped
by a mixing bridge (> 80 ms queued) and gaps are heard as dropouts. `SendClock` decides when
each frame may go; `FrameSource` decides what it carries (speech or silence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

FRAME_SECONDS = 0.020
# Sending further ahead than this risks the bridge discarding audio, and delays barge-in.
MAX_AHEAD_SECONDS = 0.060
# One frame of lead absorbs event-loop wake-up jitter without noticeably delaying a barge-in cut.
DEFAULT_LEAD_SECONDS = FRAME_SECONDS
# A frame sent later than this after its slot counts as late (still sent, not skipped).
LATE_TOLERANCE_SECONDS = 0.005
BYTES_PER_SAMPLE = 2
# Speech due to start sooner than this after it was queued just waits for its slot.
MIN_EARLY_START_SECONDS = 0.002
# Lateness histogram: 1 ms buckets from 0 (on time or early) to LATENESS_BUCKETS - 1 (or more).
LATENESS_BUCKETS = 101


def frame_bytes(rate: int) -> int:
    """Bytes in one 20 ms frame of 16-bit mono PCM: 320 at 8 kHz, 640 at 16 kHz."""
    samples = rate * 20 // 1000
    if samples <= 0 or rate * 20 % 1000:
        raise ValueError(f"sample rate {rate} Hz does not give whole 20 ms frames")
    return samples * BYTES_PER_SAMPLE


@dataclass(slots=True)
class PacingStats:
    sent: int = 0
    late: int = 0
    skipped: int = 0
    max_lateness: float = 0.0
    # frames by whole milliseconds sent after their due time (the last bucket: that or more)
    lateness_ms: list[int] = field(default_factory=lambda: [0] * LATENESS_BUCKETS)

    def lateness_percentile(self, fraction: float) -> float:
        """Upper edge (ms) of the bucket holding that fraction of the frames; 0 when none."""
        total = sum(self.lateness_ms)
        if not total:
            return 0.0
        wanted = fraction * total
        running = 0
        for bucket, count in enumerate(self.lateness_ms):
            running += count
            if running >= wanted:
                return float(bucket + 1)
        return float(LATENESS_BUCKETS)


class SendClock:
    """Frame n is due at `start + n × interval`; it may leave up to `lead` seconds early.

    The clock is pure (callers pass `now`) so it is testable without sleeping. After a stall
    it skips whole slots instead of bursting the backlog out: a burst would only be thrown
    away by Asterisk or played as garbled audio.

    Speech that starts after silence need not wait for the silence's next slot (up to 20 ms
    of dead air at every reply): `start_now` moves the grid so its first frame goes at once,
    and `settle` moves it back once silence follows, where a longer interval between two
    silence frames is inaudible. The grid is thus never more than one interval earlier
    than the one the call started with, so nothing piles up ahead on the Asterisk side.
    """

    def __init__(
        self,
        start: float,
        *,
        interval: float = FRAME_SECONDS,
        lead: float = DEFAULT_LEAD_SECONDS,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if not 0 <= lead <= MAX_AHEAD_SECONDS:
            raise ValueError(f"lead must be within 0..{MAX_AHEAD_SECONDS} s, got {lead}")
        self.start = start
        self.interval = interval
        self.lead = lead
        self.index = 0
        self.stats = PacingStats()
        self.advanced = 0.0  # seconds the grid runs ahead of where it started (start_now)

    def due(self, index: int) -> float:
        return self.start + index * self.interval

    def delay(self, now: float) -> float:
        """Seconds to wait before the next frame may be sent (0 when it may go now)."""
        return max(0.0, self.due(self.index) - self.lead - now)

    def start_now(self, now: float) -> bool:
        """Speech was queued after silence: move the grid so its first frame may go at `now`.
        False (and nothing moves) when the next slot comes soon anyway, or the grid already
        ran ahead (speech started early once and no silence has settled it since)."""
        wait = self.delay(now)
        if wait < MIN_EARLY_START_SECONDS or self.advanced:
            return False
        self.start -= wait
        self.advanced = wait
        return True

    def settle(self) -> None:
        """Back to the grid the call started with (call while sending silence)."""
        self.start += self.advanced
        self.advanced = 0.0

    def take(self, now: float) -> int:
        """Claim the slot for a frame being sent at `now`; returns its index.

        Call only once `delay(now)` is 0. Slots a whole interval or more in the past are
        skipped and counted, so the frame goes into the current slot.
        """
        lateness = now - self.due(self.index)
        if lateness >= self.interval:
            behind = int(lateness // self.interval)
            self.index += behind
            self.stats.skipped += behind
            lateness -= behind * self.interval
        stats = self.stats
        if lateness > LATE_TOLERANCE_SECONDS:
            stats.late += 1
        if lateness > stats.max_lateness:
            stats.max_lateness = lateness
        stats.lateness_ms[
            min(int(lateness * 1000), LATENESS_BUCKETS - 1) if lateness > 0 else 0
        ] += 1
        stats.sent += 1
        slot = self.index
        self.index += 1
        return slot


class FrameSource:
    """Outbound audio for one call, cut into 20 ms frames; silence whenever nothing is queued.

    `enqueue` may be called with chunks of any (even) size, e.g. streamed TTS: a partial tail
    waits for the next chunk and is only zero-padded when the clock needs a frame and nothing
    else is queued, so consecutive chunks stay gap-free.
    """

    # Set by the sender: called when speech is queued into an idle source, so its first
    # frame can leave at once rather than at the next slot of the silence grid.
    on_speech: Callable[[], None] | None = None

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.frame_size = frame_bytes(rate)
        self.silence = bytes(self.frame_size)
        self._frames: deque[bytes] = deque()
        self._tail = b""

    @property
    def holding(self) -> bool:
        """True while queued speech is held back (a paused playout): silence goes out."""
        return False

    @property
    def idle(self) -> bool:
        """True when the next frame would be silence."""
        return not self._frames and not self._tail

    @property
    def queued_bytes(self) -> int:
        """Speech bytes queued and not yet taken (padding not counted)."""
        return len(self._frames) * self.frame_size + len(self._tail)

    @property
    def queued_seconds(self) -> float:
        return self.queued_bytes / (self.rate * BYTES_PER_SAMPLE)

    def enqueue(self, pcm: bytes) -> None:
        if len(pcm) % BYTES_PER_SAMPLE:
            raise ValueError(f"odd PCM length {len(pcm)}: samples are 16-bit")
        was_idle = self.idle
        data = self._tail + pcm
        whole = len(data) - len(data) % self.frame_size
        for offset in range(0, whole, self.frame_size):
            self._frames.append(data[offset : offset + self.frame_size])
        self._tail = data[whole:]
        if was_idle and not self.idle and self.on_speech is not None:
            self.on_speech()

    def clear(self) -> int:
        """Barge-in: drop all queued speech so the next frame is silence. Returns frames dropped."""
        dropped = len(self._frames) + (1 if self._tail else 0)
        self._frames.clear()
        self._tail = b""
        return dropped

    def next_frame(self) -> bytes:
        if self._frames:
            return self._frames.popleft()
        if self._tail:
            frame = self._tail.ljust(self.frame_size, b"\x00")
            self._tail = b""
            return frame
        return self.silence
