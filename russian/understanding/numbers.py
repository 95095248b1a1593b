"""Quantities ("две пачки", "пару", "десяток") and digit strings (order and phone numbers).

number-parser turns number words into digits inside running text ("сто два ноль сорок пять"
→ "102 0 45"); the rules here add what it leaves out: counting nouns ("пара", "десяток"),
"нуль" and runs of zeros ("два нуля"), sizes that are not counts ("по 500 грамм"), and
self-corrections ("две, нет, три").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import number_parser.parser
from number_parser import parse as _number_parser_parse

from russian._morph import morph
from russian.understanding._text import Token, fold, tokens

# Nouns that are a count by themselves; a number before them multiplies ("два десятка").
COUNTING_NOUNS: dict[str, int] = {
    "пара": 2, "парочка": 2, "пяток": 5, "десяток": 10, "десятка": 10, "дюжина": 12,
    "полдюжины": 6,
}  # fmt: skip
# Units of things one counts: "пачку" alone is one pack.
COUNT_UNITS: frozenset[str] = frozenset(
    {
        "штука", "штучка", "пачка", "пачечка", "упаковка", "бутылка", "бутылочка", "банка",
        "баночка", "коробка", "пакет", "пакетик", "батон", "буханка", "рулон",
        "тюбик", "флакон", "шт",
    }
)  # fmt: skip
# A number before these is a size or a weight, not how many: "две пачки по 500 грамм".
MEASURES: frozenset[str] = frozenset(
    {
        "г", "гр", "грамм", "кг", "килограмм", "кило", "л", "литр", "литровый", "мл",
        "миллилитр", "процент", "процентный", "граммовый", "килограммовый", "сантиметр", "см",
        "метр", "м",
    }
)  # fmt: skip
# Between two numbers these make the second a correction of the first.
CORRECTIONS: frozenset[str] = frozenset(
    {"нет", "а", "точнее", "вернее", "лучше", "ой", "извинить", "давайте", "пусть", "хотя"}
)
_ZERO_WORD = r"(?:нул|нол)(?:ь|я|ю|ем|е|и|ей)"
_ZERO = re.compile(rf"(?<![а-яё]){_ZERO_WORD}(?![а-яё])", re.IGNORECASE)
# "два нуля" is two zeros, "два ноль" is a two and a zero: only the counted (genitive) form.
_ZERO_RUN = re.compile(r"(?<![а-яё])([а-яё]+)\s+(?:нул|нол)(?:я|ей)(?![а-яё])", re.IGNORECASE)
# A decimal ("3,2%", "1,5 л") is a size on the label, never a count of items.
_DECIMAL = re.compile(r"\d+[.,]\d+")
_NUMBER = re.compile(r"\d+")

# number-parser rebuilds its word tables for every call it answers (~0.25 ms of the ~0.3 ms
# a phrase takes: each table's words normalised again), and a guided turn asks it several
# times (B2's profile of the worker, docs/benchmarks.md). The tables never change and the
# parser only reads them, so one per language serves every call.
_tables = number_parser.parser
_tables.LanguageData = functools.cache(_tables.LanguageData)


def _single_number(word: str) -> int | None:
    converted = _number_parser_parse(word, language="ru")
    return int(converted) if converted.isdigit() else None


def _zero_run(match: re.Match[str]) -> str:
    count = _single_number(match.group(1))
    if count is None or not 2 <= count <= 9:
        return match.group()
    return " ".join("0" * count)


def to_digits(text: str) -> str:
    """Number words → digits, other words kept: "Тверская семь квартира двенадцать" →
    "Тверская 7 квартира 12"; "два нуля" → "0 0"; "нуль" → "0"."""
    text = _ZERO_RUN.sub(_zero_run, text)
    text = _ZERO.sub("0", text)
    return str(_number_parser_parse(text, language="ru"))


def parse_digits(text: str) -> str | None:
    """The digits of an order or phone number said as words, digits or both, in groups as
    people say them: "сто два ноль сорок пять" → "102045"; "восемь девятьсот шестнадцать сто
    двадцать три сорок пять шестьдесят семь" → "89161234567". None when there is no digit."""
    digits = "".join(_NUMBER.findall(to_digits(fold(text))))
    return digits or None


@dataclass(frozen=True)
class _Count:
    value: int
    index: int  # of the token that said it
    negated: bool


def _is_measure(word: Token) -> bool:
    return word.is_(*MEASURES)


def _counts(words: Sequence[Token]) -> list[_Count]:
    found: list[_Count] = []
    for index, word in enumerate(words):
        value: int | None = None
        if word.text.isdigit():
            if index > 0 and words[index - 1].is_("по"):
                continue  # "по 500 грамм", "по два литра"
            if index + 1 < len(words) and _is_measure(words[index + 1]):
                continue
            value = int(word.text)
        else:
            value = next((n for noun, n in COUNTING_NOUNS.items() if word.is_(noun)), None)
            if value is None:
                continue
            if found and found[-1].index == index - 1:
                # "два десятка": the number before multiplies the counting noun.
                previous = found.pop()
                value *= previous.value
        negated = index > 0 and words[index - 1].is_("не", "ни")
        found.append(_Count(value, index, negated))
    return found


def _lone_unit(words: Sequence[Token]) -> bool:
    """ "пачку", "одну бутылку" said without a number: a singular counting unit."""
    for word in words:
        if word.is_(*COUNT_UNITS):
            for parse in morph().parse(word.text):
                if fold(parse.normal_form) in COUNT_UNITS and "sing" in parse.tag:
                    return parse.tag.case in {"nomn", "accs"}
    return False


def parse_quantity(text: str) -> int | None:
    """How many items a caller asks for: "две штуки" → 2, "пару" → 2, "десяток" → 10,
    "пачку" → 1, "пять, нет, шесть" → 6; "две или три" → None (ask again)."""
    # "3,2%" is a fat content: the digits before "%" must read as a measure.
    digits = _DECIMAL.sub(" ", to_digits(fold(text)).replace("%", " процентов"))
    words = tokens(digits)
    counts = _counts(words)
    plain = [count for count in counts if not count.negated]
    if not plain:
        return 1 if not counts and _lone_unit(words) else None
    if len({count.value for count in plain}) == 1:
        return plain[0].value
    # Several numbers: the last one counts only when the caller corrected themself.
    last, before = plain[-1], plain[-2]
    between = words[before.index + 1 : last.index]
    if any(word.is_(*CORRECTIONS) for word in between):
        return last.value
    return None
