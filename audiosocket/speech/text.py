"""Splitting bot text into sentences, the unit of synthesis (first audio comes sooner)."""

from __future__ import annotations

import re
from typing import Final

_SENTENCE_END: Final = re.compile(r"(?<=[.!?…])\s+|\n+")
_CLAUSE_END: Final = re.compile(r"(?<=[,;:—])\s+")
MAX_PART_CHARS: Final = 200  # a longer sentence is split at commas so it starts sooner


def split_sentences(text: str, max_chars: int = MAX_PART_CHARS) -> list[str]:
    """Non-empty sentences of `text`, punctuation kept; over-long ones split at clause marks
    and, failing that, at spaces, so no part exceeds `max_chars`."""
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        if sentence:
            parts.extend(_limit(sentence, max_chars))
    return parts


def _limit(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts: list[str] = []
    current = ""
    for piece in _pieces(sentence, max_chars):
        joined = f"{current} {piece}" if current else piece
        if len(joined) <= max_chars:
            current = joined
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if len(clause) <= max_chars:
            pieces.append(clause)
            continue
        words = clause.split()
        for word in words:
            # a single word longer than the limit is cut (no real sentence has one)
            pieces.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return pieces
