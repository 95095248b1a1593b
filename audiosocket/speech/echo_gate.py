"""Echo gate: inbound audio that is only the bot's own voice coming back is muted before the
VAD hears it, so the echo of a handset or a hybrid line never counts as a barge-in.

Phone lines return the bot's voice 10–35 dB quieter and 20–250 ms later, and silero scores
that echo as speech even 35 dB down. The gate compares each 10 ms of inbound audio with
what the bot sent: inbound energy no louder than the bot's energy at the echo delay times
the line's echo gain (plus a 6 dB margin) is echo, and becomes silence. The caller — alone
or over the bot — is louder than that for two bins in a row (or far louder in one); then
inbound audio passes unchanged, and keeps passing for a short hold so the VAD hears whole
syllables. While the bot is silent the gate does nothing.

- **Delay**: the dB envelopes of the inbound and outbound streams are correlated over the
  last 1.5 s for every lag of the search window (0–350 ms: the echo delay, the send loop's
  lead and a frame of transport). Speech envelopes are spiky, so a real echo gives a sharp
  peak after a few hundred ms of bot speech. Only a history without the caller talking
  over the bot counts. The echo is looked for around the delay alone once the delay is
  sure (a clear peak, or three estimates in a row agreeing; anew for every reply after a
  pause) and further around it when the estimates wander; until then, in the whole window.
- **Echo gain** (the inverse of the echo-return loss), two estimates, the lower one used:
  - a *bound* that needs no delay: inbound energy is never below the echo's, and whatever
    the delay (up to the window's), the echo in the last second carries at least the bot's
    audio of that second less the window. So inbound energy ÷ that outbound energy is at
    least the gain; the lowest such ratio of the last few seconds bounds the echo from
    above. A line that returned nothing for a second while the bot spoke (Asterisk sends no
    frames while the caller is silent) has no echo: the bound drops to the floor.
  - with the delay known, the median of inbound ÷ outbound-at-the-delay: echo-only bins
    sit at the true gain, the caller talking over only adds higher ratios (more caution).
  Before either is known the gate assumes the loudest echo the spec allows (10 dB down)
  from the loudest bot audio of the whole window: the caller must then be nearly as loud
  as the bot to get through, for the few hundred ms this lasts.
- **Timing**: both streams are placed in 10 ms bins by counting samples (`_StreamClock`),
  not by when the event loop happened to hand each frame over; stalls of the send loop and
  bursts of inbound frames after a stall of the edge's own loop are told apart from real
  shifts, which a 2-core box under load produces all the time.

Chosen over WebRTC AEC3, speex and other cancellers by `bench/echo.py` (docs/echo.md). It
works on energies only, so the inbound and outbound rates may differ.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

import numpy as np

BIN_S: Final = 0.010
MAX_DELAY_S: Final = 0.350
# Correlating this much history finds the delay after a few hundred ms of bot speech.
HISTORY_S: Final = 1.5
# The loudest echo assumed before the gain is measured: the spec's 10 dB less a margin.
PRIOR_GAIN_DB: Final = -10.0
MIN_GAIN_DB: Final = -70.0
# Inbound must beat the expected echo by this much to count as the caller.
MARGIN_DB: Final = 6.0
# The gate stays open this long after the last bin that beat the echo: syllables have
# quiet parts that must reach the VAD too.
HOLD_S: Final = 0.200
# The bound on the gain forgets after this long (a line's echo can change mid-call).
BOUND_MEMORY_S: Final = 5.0
# The bound compares this much inbound audio with the outbound audio that must echo in it.
BOUND_WINDOW_S: Final = 1.0
# No inbound frame for this long while the bot spoke: the line returns no echo.
SILENT_LINE_S: Final = 1.0

# A frame this much later than its stream's sample count starts a new run: frames stopped
# (as the endpointer's gap). Lateness that lasts this window moves the count.
_GAP_S: Final = 0.2
_LATE_WINDOW_S: Final = 0.2
_FLOOR_DB: Final = -90.0  # digital silence, and no frames at all
# Outbound bins quieter than this are the bot's pauses: they explain no echo and say
# nothing about the echo gain.
_ACTIVE_DB: Final = -50.0
_GAIN_PERCENTILE: Final = 50
_GAIN_OBSERVATIONS: Final = 150  # 1.5 s of bot speech
_MIN_OBSERVATIONS: Final = 20
_REESTIMATE_BINS: Final = 10  # delay and gain are recomputed every 100 ms of inbound audio
_MIN_ACTIVE_BINS: Final = 30  # bins of bot speech in the history before a delay is trusted
_MIN_BOUND_BINS: Final = 20  # bins of bot speech that a bound must rest on
_MIN_CORRELATION: Final = 0.6
_RECENT_DELAYS: Final = 10  # a second of estimates
_MAX_REACH_BINS: Final = 4
_STEADY_ESTIMATES: Final = 3
_OPEN_BINS: Final = 2
_SURE_CORRELATION: Final = 0.9  # a delay this clear needs no second estimate
_SLACK_BINS: Final = 8


def _level_db(samples: np.ndarray) -> float:
    """Mean power of int16 samples in dB relative to full scale (the floor for silence)."""
    values = samples.astype(np.float64)
    power = float(np.dot(values, values)) / (max(1, samples.size) * 32768.0 * 32768.0)
    return max(_FLOOR_DB, 10 * math.log10(power)) if power > 0 else _FLOOR_DB


class _StreamClock:
    """Bins of a stream's audio. Frames are counted in samples from the run's first frame,
    so the jitter of when each is handed over does not smear the envelope. The count
    follows the stream when it really moves:

    - a frame more than `tolerance_s` earlier than counted moves it back at once (the count
      was behind the stream);
    - frames later than that for all of `late_window_s` move it forward (inbound samples
      were lost); a burst of inbound frames delayed by a stalled event loop is not that, its
      last frame is on time. The send loop never queues, so outbound audio moves at once,
      by whole frames: after a stall its clock skips slots and the rest plays that much
      later, while the usual few ms of wake-up jitter move nothing;
    - a frame long after the count (a gap: the caller was silent) starts a new run.
    """

    def __init__(
        self, rate: int, *, tolerance_s: float, late_window_s: float, whole_frames: bool = False
    ) -> None:
        self.rate = rate
        self.bin_samples = round(rate * BIN_S)
        self._tolerance_s = tolerance_s
        self._late_window_s = late_window_s
        self._whole_frames = whole_frames
        self._run_bin = 0
        self._run_samples = 0
        self._next: float | None = None  # when the sample after the last one fed plays
        self._late_min = math.inf  # the least lateness since `_late_since`
        self._late_since = 0.0
        self.moved_bin = 0  # where the count last started or moved

    def pieces(self, samples: np.ndarray, start: float) -> list[tuple[int, np.ndarray]]:
        """`samples` handed over at `start`, cut at bin boundaries, with bin numbers."""
        self._follow(start, samples.size / self.rate)
        index = self._run_bin + self._run_samples // self.bin_samples
        take = self.bin_samples - self._run_samples % self.bin_samples
        self._advance(samples.size)
        found = []
        offset = 0
        while offset < samples.size:
            found.append((index, samples[offset : offset + take]))
            offset += take
            index += 1
            take = self.bin_samples
        return found

    def skip(self, size: int, start: float) -> None:
        """`size` samples handed over at `start` that need no bins (silence), counted all
        the same."""
        self._follow(start, size / self.rate)
        self._advance(size)

    def _advance(self, size: int) -> None:
        assert self._next is not None
        self._run_samples += size
        self._next += size / self.rate

    def _follow(self, start: float, duration: float) -> None:
        if self._next is None or start - self._next > _GAP_S:
            self._run_bin = math.floor(start / BIN_S + 0.5)
            self._run_samples = 0
            self._next = start
            self._late_min, self._late_since = math.inf, start
            self.moved_bin = self._run_bin
            return
        late = start - self._next
        if late < -self._tolerance_s:
            self._shift(late, start, duration)
            return
        self._late_min = min(self._late_min, late)
        if start - self._late_since >= self._late_window_s:
            if self._late_min > self._tolerance_s:
                self._shift(self._late_min, start, duration)
            self._late_min, self._late_since = math.inf, start

    def _shift(self, seconds: float, start: float, duration: float) -> None:
        if self._whole_frames and duration > 0:
            seconds = round(seconds / duration) * duration
        bins = round(seconds / BIN_S)
        assert self._next is not None
        self._run_bin += bins
        self._next += bins * BIN_S
        self._late_min, self._late_since = math.inf, start
        if bins:
            self.moved_bin = math.floor(start / BIN_S + 0.5)


class _Envelope:
    """dB per bin in a ring written twice over, so any recent window is a contiguous view."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values = np.full(2 * size, _FLOOR_DB)

    def put(self, index: int, value: float) -> None:
        slot = index % self.size
        self._values[slot] = self._values[slot + self.size] = value

    def at(self, index: int) -> float:
        return float(self._values[index % self.size])

    def window(self, last: int, length: int) -> np.ndarray:
        """Values for bins last-length+1 .. last, oldest first (a view: do not keep it)."""
        end = last % self.size + self.size + 1
        return self._values[end - length : end]


class EchoGate:
    """Mutes inbound audio that the bot's own outgoing audio explains (module docstring)."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self._lags = math.ceil(MAX_DELAY_S / BIN_S) + 1
        self._history = round(HISTORY_S / BIN_S)
        self._hold_bins = round(HOLD_S / BIN_S)
        self._silent_line_bins = round(SILENT_LINE_S / BIN_S)
        # Outbound bins past the newest one with speech are read for up to `lags` bins (the
        # echo still on its way), and hold audio of one ring turn ago until cleared.
        self._ahead = self._lags + 2
        size = self._history + self._lags + self._ahead + _SLACK_BINS
        self._bot = _Envelope(size)
        self._line = _Envelope(size)
        self._bot_clock = _StreamClock(
            self.out_rate, tolerance_s=0.015, late_window_s=0.0, whole_frames=True
        )
        self._line_clock: _StreamClock | None = None  # made for the rate inbound audio has
        self._bot_first: int | None = None  # the call's first outbound bin
        self._bot_cleared = -(10**9)  # outbound bins up to this one are current
        self._bot_spoke = -(10**9)  # the newest outbound bin with speech
        self._line_newest: int | None = None  # the newest inbound bin
        self.delay_bins: int | None = None  # echo delay in bins, once found
        # The delays found in the last second, and how far around the delay the echo is
        # looked for: ±1 bin on a steady line, more when the delay wanders.
        self._recent_delays: deque[int] = deque(maxlen=_RECENT_DELAYS)
        self._reach = 1
        self._delay_correlation = 0.0  # of the last delay estimate
        self._ratios = np.zeros(_GAIN_OBSERVATIONS)  # inbound - outbound at the delay, dB
        self._ratio_count = 0
        self._delay_gain: float | None = None
        self._bounds: list[tuple[int, float]] = []  # (bin, bound) ascending in both
        self._open_until = -(10**9)  # the caller was heard: inbound passes up to this bin
        self._above = 0  # bins in a row louder than the echo explains
        self._until_estimate = 0
        self.muted_bins = 0

    def describe(self) -> dict[str, object]:
        """What the gate knows of the line, for logs."""
        delay = None if self.delay_bins is None else round(self.delay_bins * BIN_S * 1000)
        return {"echo_delay_ms": delay, "echo_gain_db": round(self.gain_db, 1)}

    @property
    def gain_db(self) -> float:
        """The echo gain in use (dB, ≤ 0): outbound level + this = the expected echo."""
        gain = PRIOR_GAIN_DB
        if self._bounds:
            gain = min(gain, self._bounds[0][1])
        if self._delay_gain is not None:
            gain = min(gain, self._delay_gain)
        return max(MIN_GAIN_DB, gain)

    # --- the bot's side ---------------------------------------------------------------------

    def outbound_rate(self, rate: int) -> None:
        """The bot speaks at `rate` from now on (between replies: its audio so far is kept;
        the count of the new rate's samples starts afresh at its first frame)."""
        if rate != self.out_rate:
            self.out_rate = rate
            self._bot_clock = _StreamClock(
                rate, tolerance_s=0.015, late_window_s=0.0, whole_frames=True
            )

    def played(self, pcm: bytes, at: float) -> None:
        """An outbound frame starts playing at `at` (when the send loop sent it)."""
        if self._bot_first is None:
            self._bot_first = math.floor(at / BIN_S + 0.5)
        if pcm.count(0) == len(pcm):
            # The send loop hands over every frame of every call, mostly silence: a bin
            # not written is silence (cleared below before it is read).
            self._bot_clock.skip(len(pcm) // 2, at)
            return
        samples = np.frombuffer(pcm, dtype="<i2")
        for index, piece in self._bot_clock.pieces(samples, at):
            # Bins from the last cleared one (maybe long ago) to the echo window ahead still
            # hold audio of an earlier ring turn: clear them.
            first = max(self._bot_cleared + 1, index - self._bot.size)
            for stale in range(first, index + self._ahead):
                self._bot.put(stale, _FLOOR_DB)
            self._bot_cleared = max(self._bot_cleared, index + self._ahead - 1)
            level = _level_db(piece)
            self._bot.put(index, level)
            if level > _ACTIVE_DB:
                if index - self._bot_spoke > self._lags:
                    # The bot speaks again after a pause: the delay found before must be
                    # confirmed anew (a loaded box's timing drifts between replies).
                    self._recent_delays.clear()
                    self._delay_correlation = 0.0
                self._bot_spoke = max(self._bot_spoke, index)

    # --- the caller's side ------------------------------------------------------------------

    def filter(self, pcm: bytes, rate: int, at: float) -> bytes:
        """Inbound audio at `rate` that arrived at `at`: the same bytes, with the bins that
        are only echo silenced."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._line_clock is None or self._line_clock.rate != rate:
            self._line_clock = _StreamClock(
                rate, tolerance_s=BIN_S / 2, late_window_s=_LATE_WINDOW_S
            )
        start = at - samples.size / rate
        muted: np.ndarray | None = None
        offset = 0
        for index, piece in self._line_clock.pieces(samples, start):
            self._fill_gap(index)
            level = _level_db(piece)
            self._line.put(index, level)
            self._line_newest = index
            if self._echo_only(index, level):
                if muted is None:
                    muted = samples.copy()
                muted[offset : offset + piece.size] = 0
                self.muted_bins += 1
            offset += piece.size
        return pcm if muted is None else muted.tobytes()

    # --- the decision ----------------------------------------------------------------------

    def _echo_only(self, index: int, level: float) -> bool:
        if index - self._bot_spoke > self._lags:
            return False  # the bot has been silent for longer than any echo lasts
        self._learn(index, level)
        self._until_estimate -= 1
        if self._until_estimate <= 0:
            self._until_estimate = _REESTIMATE_BINS
            if index - self._open_until > self._history:
                # the caller talking over the bot blurs the delay: only a history without
                # them says where the echo is
                self._estimate_delay(index)
            self._estimate_gain()
            self._estimate_bound(index)
        sure = self._delay_steady and not self._clocks_moved(index)
        if self.delay_bins is None or not (sure or index <= self._open_until):
            # An unsure delay, or a stream that just moved (its first frames may sit a few
            # bins off), could let echo open the gate; once the caller opened it, the delay
            # found so far is good enough to keep it open.
            reference = float(self._bot.window(index, self._lags).max())
        else:
            # ±1 bin: a fractional delay and the line's own smear spread the echo; more
            # when the delay found lately wanders.
            reach = self._reach
            lagged = index - self.delay_bins
            reference = float(self._bot.window(lagged + reach, 2 * reach + 1).max())
        if reference <= _ACTIVE_DB:
            return False  # the bot was pausing then: nothing to explain
        above = level - (reference + self.gain_db + MARGIN_DB)
        self._above = self._above + 1 if above > 0 else 0
        if index <= self._open_until and above > 0:
            self._open_until = index + self._hold_bins  # the caller goes on
            return False
        if self._above >= _OPEN_BINS or above > MARGIN_DB:
            # the caller: two bins in a row above the echo, or one far above it (a lone
            # bin just above is more likely echo the timing smeared than a voice)
            self._open_until = index + self._hold_bins
            return False
        return index > self._open_until

    def _clocks_moved(self, index: int) -> bool:
        """A stream's count started or moved lately (a gap, a stall, lost samples)."""
        settle = round(_LATE_WINDOW_S / BIN_S)
        line = self._line_clock
        return index - self._bot_clock.moved_bin < settle or (
            line is not None and index - line.moved_bin < settle
        )

    @property
    def _delay_steady(self) -> bool:
        """The last few delay estimates agree: the echo can be looked for around the delay
        alone (until then, anywhere in the search window)."""
        if self._delay_correlation >= _SURE_CORRELATION:
            return True
        last = list(self._recent_delays)[-_STEADY_ESTIMATES:]
        return len(last) == _STEADY_ESTIMATES and max(last) - min(last) <= 1

    def _learn(self, index: int, level: float) -> None:
        """What inbound bin `index` says about the echo gain at the known delay."""
        if self.delay_bins is not None:
            reference = self._bot.at(index - self.delay_bins)
            if reference > _ACTIVE_DB:
                self._ratios[self._ratio_count % _GAIN_OBSERVATIONS] = level - reference
                self._ratio_count += 1

    def _estimate_bound(self, index: int) -> None:
        """Inbound energy of the last second over the outbound energy that echoes in it for
        any delay of the window (module docstring): an upper bound on the echo gain."""
        window = round(BOUND_WINDOW_S / BIN_S)
        inner = self._bot.window(index - self._lags + 1, window - self._lags + 1)
        if int(np.count_nonzero(inner > _ACTIVE_DB)) < _MIN_BOUND_BINS:
            return
        bot = float(np.sum(np.power(10.0, inner / 10)))
        line = float(np.sum(np.power(10.0, self._line.window(index, window) / 10)))
        self._bound(index, 10 * math.log10(max(line, 1e-12) / bot))

    def _bound(self, index: int, bound: float) -> None:
        memory = round(BOUND_MEMORY_S / BIN_S)
        # Keep the minimum over the memory as a monotonic queue: (bin, bound) with bounds
        # rising, so the first entry is the lowest bound still remembered.
        while self._bounds and self._bounds[-1][1] >= bound:
            self._bounds.pop()
        self._bounds.append((index, bound))
        while self._bounds[0][0] <= index - memory:
            self._bounds.pop(0)

    def _estimate_gain(self) -> None:
        count = min(self._ratio_count, _GAIN_OBSERVATIONS)
        if count >= _MIN_OBSERVATIONS:
            rank = count * _GAIN_PERCENTILE // 100
            self._delay_gain = float(np.partition(self._ratios[:count], rank)[rank])

    def _estimate_delay(self, index: int) -> None:
        bot = self._bot.window(index, self._history + self._lags - 1)
        if int(np.count_nonzero(bot > _ACTIVE_DB)) < _MIN_ACTIVE_BINS:
            return
        line = self._line.window(index, self._history)
        if float(line.max()) <= _FLOOR_DB:
            return  # a silent line has no delay to find
        # candidates[lag]: the outbound envelope `lag` bins before each inbound bin
        candidates = np.lib.stride_tricks.sliding_window_view(bot, self._history)[::-1]
        x = line - line.mean()
        y = candidates - candidates.mean(axis=1, keepdims=True)
        norms = np.sqrt(np.einsum("ij,ij->i", y, y) * float(np.dot(x, x)))
        correlation = np.divide(y @ x, norms, out=np.zeros(len(norms)), where=norms > 0)
        best = int(np.argmax(correlation))
        if correlation[best] < _MIN_CORRELATION:
            return
        self._recent_delays.append(best)
        self._delay_correlation = float(correlation[best])
        spread = max(self._recent_delays) - min(self._recent_delays)
        self._reach = min(_MAX_REACH_BINS, 1 + math.ceil(spread / 2))
        if best != self.delay_bins:
            self.delay_bins = best
            self._ratio_count = 0  # ratios at the old delay say nothing now
            self._delay_gain = None

    def _fill_gap(self, index: int) -> None:
        """Bins without an inbound frame: a second or more of them was a silent line
        (Asterisk sends nothing while the caller is silent, from the start of the call on).
        A shorter gap says nothing — a stalled event loop (ours or the line's) makes those
        too — and keeps the level before it."""
        newest = self._line_newest
        if newest is None:
            if self._bot_first is None:
                return
            newest = self._bot_first - 1
        if index - newest - 1 < self._silent_line_bins:
            for skipped in range(newest + 1, index):
                self._line.put(skipped, self._line.at(newest))
            return
        missing = range(max(newest + 1, index - self._line.size), index)
        for gap in missing:
            self._line.put(gap, _FLOOR_DB)
            if gap - self._bot_spoke <= self._lags:
                self._learn(gap, _FLOOR_DB)
        if len(missing) >= _REESTIMATE_BINS:
            self._estimate_bound(index - 1)  # what the silence says, before this frame
