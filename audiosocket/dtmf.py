"""Caller key presses: one digit once, and digits grouped into what the workflow is pressed with.

Asterisk reports a key twice when the ARI path is used: as AudioSocket kind 0x03 and as the
ARI event `ChannelDtmfReceived` (audiosocket.md, "Observed on a real Asterisk"). `DtmfDeduper`
keeps the first report of a key and drops the other source's report of it.

`DigitCollector` turns single keys into `caller_pressed` inputs (dialog.md, DTMF): `0` and
`*` pressed alone act at once (operator, cancel), so does `1` while the order waits for a
yes; any other digits are collected until the caller pauses (an order number) or presses `#`.
Both classes are pure: the caller passes `now`, so they are tested without sleeping.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.vocabulary import Stage

# A second report of the same key from the other source arrives within milliseconds; two
# genuine presses of the same key are at least ~100 ms apart even for a fast typist, and
# a real duplicate is never from the same source.
DEDUPE_WINDOW_S = 0.5
# Callers type an order number with pauses; a longer pause means they are done.
INTER_DIGIT_TIMEOUT_S = 2.5
MAX_DIGITS = 20  # the workflow's DtmfTurn accepts at most 20
DIGITS = frozenset("0123456789")
KEYS = DIGITS | {"*", "#"}


class DtmfSource(enum.Enum):
    AUDIOSOCKET = "audiosocket"
    ARI = "ari"


@dataclass(slots=True)
class _Report:
    digit: str
    source: DtmfSource
    at: float
    paired: bool = False


@dataclass
class DtmfDeduper:
    """Keeps a key the first time it is reported; drops the other source's copy of it."""

    window_s: float = DEDUPE_WINDOW_S
    _recent: list[_Report] = field(default_factory=list)

    def accept(self, digit: str, source: DtmfSource, now: float) -> bool:
        self._recent = [r for r in self._recent if now - r.at <= self.window_s]
        for report in self._recent:
            if report.digit == digit and report.source is not source and not report.paired:
                report.paired = True
                return False
        self._recent.append(_Report(digit, source, now))
        return True


@dataclass
class DigitCollector:
    """Collects keys into one `caller_pressed` input; see the module docstring for the rules."""

    inter_digit_s: float = INTER_DIGIT_TIMEOUT_S
    max_digits: int = MAX_DIGITS
    _digits: str = ""
    _last_at: float = 0.0

    @property
    def pending(self) -> str:
        return self._digits

    def press(self, key: str, now: float, *, stage: Stage | None) -> str | None:
        """Feed one key; returns digits to send to the workflow now, if any."""
        if key not in KEYS:
            return None  # A–D exist on the wire but mean nothing here
        if key == "#":
            return self._flush()
        if not self._digits:
            if key in ("0", "*"):
                return key
            if key == "1" and stage is Stage.AWAITING_CONFIRMATION:
                return key
        if key == "*":
            # The caller started typing and wants to start over.
            self._digits = ""
            return None
        self._digits += key
        self._last_at = now
        if len(self._digits) >= self.max_digits:
            return self._flush()
        return None

    def due(self, now: float) -> str | None:
        """Digits whose inter-digit pause has run out, to be sent now."""
        if self._digits and now - self._last_at >= self.inter_digit_s:
            return self._flush()
        return None

    def _flush(self) -> str | None:
        digits, self._digits = self._digits, ""
        return digits or None
