"""How long a silence ends the caller's turn, chosen by what the bot just asked.

One fixed wait serves no question well: after "Верно?" a caller says "да" and waits for
the bot, so every millisecond of the wait is dead air; a caller dictating an order number
or an address pauses between groups ("сто два… ноль сорок пять"), and a wait shorter than
that pause sends half a number to the workflow. Every reply says what it expects
(`Reply.expects`, set by the workflow from its read-back, the guided agent's question or
the LLM's last question), and the session gives the endpointer the wait for it from the
moment the reply starts: the caller's answer, even one spoken over the reply, ends with it.

The defaults (settings END_OF_TURN_*_MS; docs/configuration.md says why each):

- yes/no 400 ms: the gaps between words of a phrase are shorter (espeak's and a caller's,
  under 250 ms), so "да, всё верно" stays one turn, and a plain "да" is answered 300 ms
  sooner than with the ordinary wait;
- digits and address 1200 ms: dictation pauses between groups run to about a second; the
  issue's 900 ms pause stays inside the turn with a margin;
- product 1000 ms: a caller naming several products pauses to think between them;
- free 700 ms: the wait every turn had before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.settings import Settings
from core.vocabulary import Expectation

# Shorter than this, a gap between words ends the turn; longer, the caller hears dead air.
MIN_WAIT_MS: Final = 200
MAX_WAIT_MS: Final = 5000


@dataclass(frozen=True)
class EndOfTurnWaits:
    """The silence that ends a caller's turn, per what the bot expects (milliseconds), and
    when the utterance so far is transcribed early (`early_stt_ms`; None: never)."""

    yes_no_ms: int = 400
    digits_ms: int = 1200
    address_ms: int = 1200
    product_ms: int = 1000
    free_ms: int = 700
    early_stt_ms: int | None = 300

    def __post_init__(self) -> None:
        for name in ("yes_no_ms", "digits_ms", "address_ms", "product_ms", "free_ms"):
            value = getattr(self, name)
            if not MIN_WAIT_MS <= value <= MAX_WAIT_MS:
                raise ValueError(f"{name} must be {MIN_WAIT_MS}–{MAX_WAIT_MS} ms, got {value}")
        if self.early_stt_ms is not None and self.early_stt_ms <= 0:
            raise ValueError(f"early_stt_ms must be positive or None, got {self.early_stt_ms}")

    @classmethod
    def from_settings(cls, settings: Settings) -> EndOfTurnWaits:
        return cls(
            yes_no_ms=settings.end_of_turn_yes_no_ms,
            digits_ms=settings.end_of_turn_digits_ms,
            address_ms=settings.end_of_turn_address_ms,
            product_ms=settings.end_of_turn_product_ms,
            free_ms=settings.end_of_turn_free_ms,
            early_stt_ms=settings.end_of_turn_early_stt_ms or None,
        )

    def wait_ms(self, expects: Expectation) -> int:
        """The end-of-turn silence after a reply that expects `expects`."""
        match expects:
            case Expectation.YES_NO:
                return self.yes_no_ms
            case Expectation.DIGITS:
                return self.digits_ms
            case Expectation.ADDRESS:
                return self.address_ms
            case Expectation.PRODUCT:
                return self.product_ms
            case Expectation.FREE:
                return self.free_ms
