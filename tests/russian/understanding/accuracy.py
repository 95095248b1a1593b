"""Accuracy of russian.understanding on the phrase table, per category and overall.

    .venv/bin/python -m tests.russian.understanding.accuracy        # table and misses

Results are cached per phrase, so the parametrised test and the accuracy test of one
session parse each phrase once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from russian.understanding import (
    classify_reply,
    match_products,
    parse_address,
    parse_delivery_date,
    parse_digits,
    parse_ordinal,
    parse_quantity,
)
from russian.understanding.requests import classify_request, delivery_kind
from tests.russian.understanding.phrases import CATEGORIES, PHRASES, TODAY, Phrase


@cache
def understand(phrase: Phrase) -> object:
    """What the understanding layer makes of the phrase, comparable with `expected`."""
    text = phrase.text
    if phrase.category == "intent":
        return classify_reply(text)
    if phrase.category == "quantity":
        return parse_quantity(text)
    if phrase.category == "digits":
        return parse_digits(text)
    if phrase.category == "ordinal":
        return parse_ordinal(text, 3)
    if phrase.category == "date":
        return parse_delivery_date(text, TODAY)
    if phrase.category == "address":
        return parse_address(text)
    if phrase.category == "request":
        return classify_request(text).value
    if phrase.category == "delivery":
        return delivery_kind(text)
    if phrase.category == "product":
        matches = match_products(text, list(phrase.candidates))
        return matches[0][0] if matches else None
    raise ValueError(phrase.category)


@dataclass(frozen=True)
class Miss:
    phrase: Phrase
    got: object

    def __str__(self) -> str:
        return f"{self.phrase}: expected {self.phrase.expected!r}, got {self.got!r}"


@dataclass(frozen=True)
class Score:
    category: str
    total: int
    misses: tuple[Miss, ...]

    @property
    def right(self) -> int:
        return self.total - len(self.misses)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0

    def line(self) -> str:
        return f"{self.category:<9} {self.right:>4}/{self.total:<4} {self.accuracy:7.1%}"


def score(phrases: Iterable[Phrase], category: str = "overall") -> Score:
    phrases = list(phrases)
    misses = []
    for phrase in phrases:
        got = understand(phrase)
        if got != phrase.expected:
            misses.append(Miss(phrase, got))
    return Score(category, len(phrases), tuple(misses))


def by_category(phrases: Iterable[Phrase] = PHRASES) -> list[Score]:
    phrases = list(phrases)
    scores = [score((p for p in phrases if p.category == c), c) for c in CATEGORIES]
    return [*scores, score(phrases)]


def main() -> None:
    scores = by_category()
    for row in scores:
        print(row.line())
    misses = scores[-1].misses
    if misses:
        print("\nmisses:")
        for miss in misses:
            print(f"  {miss}")


if __name__ == "__main__":
    main()
