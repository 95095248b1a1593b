"""What the words around a number say about it: the case a preposition asks for, the gender
of the noun it counts ("две упаковки", "с шести месяцев", "в пяти магазинах")."""

from __future__ import annotations

import re
from functools import lru_cache

from russian._morph import morph
from russian.numbers import GENDERS, Case, Gender

_WORD_BEFORE = re.compile(r"([а-яёА-ЯЁ]+)[\s\u00a0]*$")
_WORD_AFTER = re.compile(r"^[\s\u00a0]*([а-яёА-ЯЁ]+)")

GENITIVE_PREPOSITIONS = frozenset(
    {
        "от", "до", "из", "около", "после", "без", "для", "кроме", "у", "вместо", "более",
        "менее", "свыше", "больше", "меньше", "порядка", "с", "со",
    }
)  # fmt: skip
DATIVE_PREPOSITIONS = frozenset({"к", "ко"})
# These take several cases; the counted noun decides ("в пяти магазинах", but "в 10 часов").
LOCATIVE_PREPOSITIONS = frozenset({"в", "во", "на", "о", "об", "при"})


def word_before(text: str, position: int) -> str:
    """The word that ends right before `position` (lower case), or "" if something else does."""
    match = _WORD_BEFORE.search(text[max(0, position - 40) : position])
    return match.group(1).lower() if match else ""


def word_after(text: str, position: int) -> str:
    match = _WORD_AFTER.match(text[position : position + 60])
    return match.group(1) if match else ""


@lru_cache(maxsize=4096)
def _noun_cases(word: str) -> frozenset[str]:
    return frozenset(
        str(p.tag.case)
        for p in morph().parse(word)
        if p.tag.POS in ("NOUN", "ADJF", "PRTF") and p.tag.case
    )


def case_after(preposition: str, next_word: str = "") -> Case:
    """The case of a number that follows `preposition` and is followed by `next_word`."""
    cases = _noun_cases(next_word.lower()) if next_word else frozenset()
    if preposition in ("с", "со") and cases and cases <= {"ablt"}:
        return "ablt"  # "с двумя детьми"
    if preposition in GENITIVE_PREPOSITIONS:
        return "gent"
    if preposition in DATIVE_PREPOSITIONS:
        return "datv"
    if preposition in LOCATIVE_PREPOSITIONS and cases and cases <= {"loct", "loc2"}:
        return "loct"
    return "nomn"


@lru_cache(maxsize=4096)
def gender_of(word: str) -> Gender | None:
    """The gender of a counted noun or its adjective ("упаковки" → "f"), if it has one."""
    # Only the likeliest reading: "с" is a preposition, not the abbreviated "секунда".
    parse = morph().parse(word.lower())[0]
    if parse.tag.POS in ("NOUN", "ADJF", "PRTF") and parse.tag.gender in GENDERS:
        return GENDERS[str(parse.tag.gender)]
    return None
