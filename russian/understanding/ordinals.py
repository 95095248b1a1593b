"""Spoken ordinals: "второй" (any case, any gender) → 2, "тридцатого" → 30, and the choice
of one among a few candidates read out to the caller ("второй", "последний", "номер три").

number-parser knows no Russian ordinals, and dateparser none in the genitive ("тридцатого"),
so the ordinals are recognised here: pymorphy3 gives the lemma ("тридцатого" → "тридцатый",
"двадцать пятого" → "двадцать" + "пятый") and the table of lemmas is spelled by num2words
through `russian.numbers.ordinal`, not written by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from russian.numbers import ordinal
from russian.understanding._text import Token, fold, tokens
from russian.understanding.numbers import CORRECTIONS, to_digits

# Days of a month and positions in any list a caller hears fit well below this.
_LARGEST_ORDINAL = 100
# Words that make the number after them a position: "номер два", "вариант три".
POSITION_WORDS: frozenset[str] = frozenset({"номер", "вариант", "пункт"})


@lru_cache(maxsize=1)
def ordinal_lemmas() -> dict[str, int]:
    """ "первый" → 1, …, "двадцать пятый" → 25 (lemmas: masculine nominative, ё as е)."""
    return {fold(ordinal(n)): n for n in range(1, _LARGEST_ORDINAL)}


@dataclass(frozen=True)
class OrdinalMention:
    value: int
    start: int  # character offsets in the text
    end: int


def _value(words: Sequence[Token]) -> int | None:
    table = ordinal_lemmas()
    if len(words) == 1:
        return next((table[lemma] for lemma in words[0].lemmas if lemma in table), None)
    # Compound: the tens stay cardinal and only the last word is an ordinal.
    head = words[0].text
    return next(
        (table[f"{head} {lemma}"] for lemma in words[1].lemmas if f"{head} {lemma}" in table), None
    )


def find_ordinals(text: str) -> list[OrdinalMention]:
    """Every ordinal said in `text`, with its place: "тридцатого ноября" → [30 at 0..10]."""
    words = tokens(text)
    found: list[OrdinalMention] = []
    index = 0
    while index < len(words):
        for size in (2, 1):
            window = words[index : index + size]
            if len(window) < size:
                continue
            value = _value(window)
            if value is not None:
                found.append(OrdinalMention(value, window[0].start, window[-1].end))
                index += size
                break
        else:
            index += 1
    return found


def ordinals_to_digits(text: str) -> str:
    """ "тридцатого ноября" → "30 ноября", "двадцать пятого" → "25"."""
    folded = fold(text)  # same length as `text`, so the offsets of `find_ordinals` hold
    result = []
    position = 0
    for mention in find_ordinals(folded):
        result.append(folded[position : mention.start])
        result.append(str(mention.value))
        position = mention.end
    result.append(folded[position:])
    return "".join(result)


def _relative_position(word: Token, count: int) -> int | None:
    """1-based position named by a word that is no number."""
    if word.is_("последний", "крайний"):
        return count
    if word.is_("предпоследний"):
        return count - 1
    if word.is_("средний") and count % 2 == 1:
        return count // 2 + 1
    return None


def _positions(words: Sequence[Token], count: int) -> list[tuple[int, int, bool]]:
    """(1-based position, word index, negated) for every position said."""
    found = []
    table = ordinal_lemmas()
    only_number = len(words) == 1 or (len(words) == 2 and words[0].is_(*POSITION_WORDS))
    for index, word in enumerate(words):
        position = _relative_position(word, count)
        if position is None:
            position = next((table[lemma] for lemma in word.lemmas if lemma in table), None)
        if position is None and word.text.isdigit():
            after_position_word = index > 0 and words[index - 1].is_(*POSITION_WORDS)
            if after_position_word or only_number:
                position = int(word.text)
        if position is not None:
            negated = index > 0 and words[index - 1].is_("не")
            found.append((position, index, negated))
    return found


def parse_ordinal(text: str, count: int = 3) -> int | None:
    """Which of `count` candidates the caller chose, as a 0-based index: "второй" → 1,
    "последнюю" → count - 1, "номер три" → 2, "не первый, а второй" → 1. None when no
    position (or one beyond `count`) was said, or two were said without a correction."""
    words = tokens(to_digits(fold(text)))
    said = [
        (position, index) for position, index, negated in _positions(words, count) if not negated
    ]
    if not said:
        return None
    position = said[0][0]
    if len({position for position, _ in said}) > 1:
        (_, first), (last_position, last) = said[-2], said[-1]
        if not any(word.is_(*CORRECTIONS) for word in words[first + 1 : last]):
            return None
        position = last_position
    return position - 1 if 1 <= position <= count else None
