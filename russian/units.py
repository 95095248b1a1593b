"""Units, currencies and multipliers written after numbers ("900 г", "3,2%", "2 599 ₽")."""

from __future__ import annotations

import re

# Written form (lower case, without a trailing dot) → the noun to agree with the number.
UNITS: dict[str, str] = {
    "₽": "рубль",
    "руб": "рубль",
    "р": "рубль",
    "коп": "копейка",
    "$": "доллар",
    "€": "евро",
    "%": "процент",
    "шт": "штука",
    "уп": "упаковка",
    "г": "грамм",
    "гр": "грамм",
    "кг": "килограмм",
    "мг": "миллиграмм",
    "л": "литр",
    "мл": "миллилитр",
    "м": "метр",
    "км": "километр",
    "см": "сантиметр",
    "мм": "миллиметр",
    "вт": "ватт",
    "квт": "киловатт",
    "мин": "минута",
    "ч": "час",
    "сек": "секунда",
    "°": "градус",
    "°c": "градус",
    "°с": "градус",
}
MULTIPLIERS: dict[str, str] = {"тыс": "тысяча", "млн": "миллион", "млрд": "миллиард"}

MONEY = "рубль"
# Packs like "5×80 г" are "пять по восемьдесят грамм"; sizes like "30×40 см" are "тридцать на
# сорок сантиметров".
PORTION_UNITS = frozenset({"грамм", "килограмм", "миллиграмм", "литр", "миллилитр", "штука"})


def _alternation(words: list[str]) -> str:
    # Longest first, so "мл" wins over "м" and "квт" over "кв…".
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


# A unit is a whole token: "5 л" is litres, "5 литров" is a number before a word.
_UNIT_END = r"(?![а-яёa-z])"
UNIT_PATTERN = rf"(?P<unit>{_alternation(list(UNITS))})(?P<dot>\.)?{_UNIT_END}"
UNIT_TOKEN = rf"(?:{_alternation(list(UNITS))})\.?{_UNIT_END}"  # the same, without groups
MULTIPLIER_PATTERN = rf"(?P<mult>{_alternation(list(MULTIPLIERS))})\.?(?![а-яёa-z])"


def unit_lemma(written: str) -> str:
    return UNITS[written.lower()]
