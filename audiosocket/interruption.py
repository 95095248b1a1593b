"""A caller's sound while the bot speaks: pause at once, then resume or give way.

The VAD hears a voice onset long before anyone knows whether it is words: a cough, a
"hmm", a click on the line all start the same. So the onset only *pauses* the bot's audio
(nothing queued is lost), and what follows decides:

    speaking ──onset──► paused ──voice fades before it is speech──► speaking (where it stopped)
                          │
                          └──speech──► heard ──transcript empty──► speaking (sentence start)
                                          └──words──────────────► cut: the reply is cancelled
                                                                  and played_ms reported

A short pause (an onset that faded, ~100 ms) resumes where it stopped: nothing was missed.
A long one (an utterance transcribed as nothing, about a second) rewinds to the start of
the interrupted sentence: the caller's own noise covered its last words, and a sentence
picked up mid-word after a second of silence sounds broken; the dialog's sentences are
short, so the repeat costs little. Only words cut the reply (the session does that).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import structlog

from audiosocket.metrics import EdgeMetrics
from audiosocket.playout import PlayoutSource

log = structlog.get_logger("audiosocket.interruption")


class Phase(enum.Enum):
    PAUSED = "paused"  # a voice onset, not yet speech
    HEARD = "heard"  # speech: its utterance decides once it ends


@dataclass
class _Pending:
    paused_at: float
    phase: Phase = Phase.PAUSED


class BargeIn:
    """The pause-and-decide state of one call's outbound audio (module docstring)."""

    def __init__(
        self,
        outbound: PlayoutSource,
        metrics: EdgeMetrics,
        *,
        rewind_after_s: float,
        call_id: str,
    ) -> None:
        self._outbound = outbound
        self._metrics = metrics
        self._rewind_after_s = rewind_after_s
        self._pending: _Pending | None = None
        self._log = log.bind(call_id=call_id)

    @property
    def phase(self) -> Phase | None:
        return None if self._pending is None else self._pending.phase

    def pause(self, now: float, **context: object) -> None:
        """The caller's voice began over the bot's speech (`context` goes to the log)."""
        if self._pending is None:
            self._pending = _Pending(now)
            self._outbound.pause()
            self._log.info("barge_in_paused", **context)

    def speech(self, now: float, **context: object) -> None:
        """The voice is speech: its utterance (transcribed when it ends) decides."""
        self.pause(now, **context)
        assert self._pending is not None
        self._pending.phase = Phase.HEARD

    def no_words(self, now: float, why: str) -> None:
        """The interruption held no words: the bot goes on (a false barge-in)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        paused_for = now - pending.paused_at
        rewound_ms = self._outbound.resume(rewind=paused_for >= self._rewind_after_s)
        self._metrics.false_barge_in()
        self._log.info(
            "barge_in_false",
            why=why,
            paused_ms=round(paused_for * 1000),
            rewound_ms=rewound_ms,
        )

    def give_way(self) -> bool:
        """The caller said words (or pressed a key): forget the pause, the session cuts the
        reply. True if the bot was paused."""
        pending, self._pending = self._pending, None
        return pending is not None
