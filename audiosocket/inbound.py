"""Inbound audio may not outrun the wall clock: a connection that sends faster than real time
is cut off alone, before it can starve the other calls.

Asterisk sends a caller's audio in real time (20 ms frames, every 20 ms) and nothing faster.
A peer that pushes audio as fast as it can — a bug or an attack on an unauthenticated port —
makes the edge read, decode and run VAD on every byte of it on the one event loop every call
shares: measured before this limit, one such connection (90 MB in 25 s) made the other calls
skip 789 of 1,227 outbound frames and kept their turns from reaching the workflow.

`InboundBudget` is a token bucket in seconds of audio. Credit grows with wall time at the
real-time rate, up to `burst_s`; every audio frame spends its own duration. Spending more than
there is ends the connection (`InboundTooFast`). The burst allowance (5 s by default, 250
frames of 20 ms) is what an honest peer can appear to send "early": Asterisk never runs ahead,
but the budget only sees when this process reads, and frames wait in the socket while the
process is busy or starved of CPU, then arrive together. Measured on a shared 2-core box
(bench/streams.py, an overloaded edge), honest callers were read up to a few seconds late;
2 s cut some of them. 5 s of audio costs the VAD ~10–20 ms of CPU, so a flooder still does no
harm before it is cut. Control messages (DTMF, Asterisk's error frame) have their own bucket —
20 at once, 10 a second more — since nobody presses keys faster and each one is logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from audiosocket.protocol import ProtocolError

DEFAULT_BURST_S = 5.0
DEFAULT_CONTROL_BURST = 20
DEFAULT_CONTROL_PER_S = 10.0
BYTES_PER_SAMPLE = 2
# Rounding: a hundred 20 ms frames add up to a hair over 2 s in floating point.
_SLACK_S = 1e-6


class InboundTooFast(ProtocolError):
    """The peer sent audio (or control messages) faster than real time for too long."""


@dataclass(frozen=True, slots=True)
class InboundLimits:
    burst_s: float = DEFAULT_BURST_S
    control_burst: int = DEFAULT_CONTROL_BURST
    control_per_s: float = DEFAULT_CONTROL_PER_S

    def __post_init__(self) -> None:
        if self.burst_s <= 0 or self.control_burst < 1 or self.control_per_s <= 0:
            raise ValueError(f"inbound limits must be positive: {self}")


class InboundBudget:
    """One connection's budget; the server calls `audio`/`control` for every inbound message
    with the loop's monotonic time. Pure (no clock of its own), so it is testable directly."""

    __slots__ = ("_audio_credit", "_control_credit", "_last", "limits")

    def __init__(self, now: float, limits: InboundLimits | None = None) -> None:
        self.limits = limits or InboundLimits()
        self._last = now
        self._audio_credit = self.limits.burst_s
        self._control_credit = float(self.limits.control_burst)

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            self._last = now
            limits = self.limits
            self._audio_credit = min(limits.burst_s, self._audio_credit + elapsed)
            self._control_credit = min(
                float(limits.control_burst), self._control_credit + elapsed * limits.control_per_s
            )

    def audio(self, payload_bytes: int, rate: int, now: float) -> None:
        """Spend one frame's duration; raises InboundTooFast when the credit runs out."""
        self._refill(now)
        self._audio_credit -= payload_bytes / (rate * BYTES_PER_SAMPLE)
        if self._audio_credit < -_SLACK_S:
            raise InboundTooFast(
                f"audio arrives faster than real time (more than {self.limits.burst_s:g} s ahead)"
            )

    def control(self, now: float) -> None:
        self._refill(now)
        self._control_credit -= 1
        if self._control_credit < -_SLACK_S:
            raise InboundTooFast(
                f"more than {self.limits.control_per_s:g} control messages a second"
            )
