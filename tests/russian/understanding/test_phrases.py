"""The phrase table: every phrasing is parsed and compared; the gate is the accuracy.

A single phrase that is misunderstood shows as xfailed with what came out (`pytest -ra`
lists them); the suite fails when overall accuracy drops below 90 % or a category falls
far behind. `python -m tests.russian.understanding.accuracy` prints the table.
"""

from __future__ import annotations

import pytest

from tests.russian.understanding.accuracy import by_category, understand
from tests.russian.understanding.phrases import CATEGORIES, PHRASES, Phrase

MIN_OVERALL = 0.90
MIN_CATEGORY = 0.80
MIN_PHRASES = 150


def test_the_table_is_large_and_covers_every_category() -> None:
    assert len(PHRASES) >= MIN_PHRASES
    assert {phrase.category for phrase in PHRASES} == set(CATEGORIES)
    texts = [(phrase.category, phrase.text, phrase.candidates) for phrase in PHRASES]
    assert len(texts) == len(set(texts)), "a phrase is listed twice"


def _ids() -> list[str]:
    # ASCII ids: pytest escapes Cyrillic in ids; the text is in the xfail reason.
    seen: dict[str, int] = {}
    ids = []
    for phrase in PHRASES:
        seen[phrase.category] = seen.get(phrase.category, 0) + 1
        ids.append(f"{phrase.category}-{seen[phrase.category]:03d}")
    return ids


@pytest.mark.parametrize("phrase", PHRASES, ids=_ids())
def test_phrase(phrase: Phrase) -> None:
    got = understand(phrase)
    if got != phrase.expected:
        pytest.xfail(f"{phrase.text!r}: expected {phrase.expected!r}, got {got!r}")


def test_overall_accuracy() -> None:
    *categories, overall = by_category()
    table = "\n".join(row.line() for row in [*categories, overall])
    misses = "\n".join(f"  {miss}" for miss in overall.misses)
    assert overall.accuracy >= MIN_OVERALL, f"\n{table}\nmisses:\n{misses}"
    behind = [row for row in categories if row.accuracy < MIN_CATEGORY]
    assert not behind, f"\n{table}\nmisses:\n{misses}"
