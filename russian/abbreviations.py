"""Written abbreviations a listener would otherwise hear as letters ("ул.", "д. 7", "т. е.")."""

from __future__ import annotations

import re
from collections.abc import Callable

from russian.dates import WEEKDAYS

_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_WEEKDAY_FROM = (
    "понедельника",
    "вторника",
    "среды",
    "четверга",
    "пятницы",
    "субботы",
    "воскресенья",
)
_WEEKDAY_TO = ("понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье")
_WEEKDAY = "|".join(_WEEKDAYS)

# Before numbers are read: they decide what a number is ("д. 7" → "дом 7").
_BEFORE_NUMBERS: tuple[tuple[str, str], ...] = (
    (r"\bт\.\s?е\.", "то есть"),
    (r"\bт\.\s?к\.", "так как"),
    (r"\bул\.\s?", "улица "),
    (r"\bпр-к?т\b\.?", "проспект"),
    (r"\bпросп\.\s?", "проспект "),
    (r"\bпер\.\s?", "переулок "),
    (r"\bнаб\.\s?", "набережная "),
    (r"\bпл\.\s?(?=(?-i:[А-ЯЁ]))", "площадь "),
    (r"\bб-р\b\.?", "бульвар"),
    (r"\bш\.\s?(?=(?-i:[А-ЯЁ]))", "шоссе "),
    (r"\bмкрн?\b\.?", "микрорайон"),
    (r"\bобл\.", "область"),
    (r"\bр-н\b\.?", "район"),
    (r"\bпос\.\s?", "посёлок "),
    (r"\bим\.\s?", "имени "),
    (r"\bтел\.\s?", "телефон "),
    (r"(?<!\d)(?<!\d\s)\bг\.\s?(?=(?-i:[А-ЯЁ]))", "город "),
    (r"(?<!\d)(?<!\d\s)\bм\.\s?(?=(?-i:[А-ЯЁ]))", "метро "),
    (r"\bст\.\s?(?=метро)", "станция "),
    (r"\bд\.\s?(?=\d)", "дом "),
    (r"\bкв\.\s?(?=\d)", "квартира "),
    (r"\bкорп\.\s?", "корпус "),
    (r"\bк\.\s?(?=\d)", "корпус "),
    (r"\bстр\.\s?(?=\d)", "строение "),
    (r"\bэт\.\s?(?=\d)", "этаж "),
    (r"\bпод\.\s?(?=\d)", "подъезд "),
    (r"\bПВЗ\b", "пункт выдачи"),
    (r"\b(?:СМС|SMS)\b", "эсэмэс"),
    (r"\bсмс\b", "эсэмэс"),
)
# These close a list, and their dot often closes the sentence too.
_SENTENCE_TAILS: tuple[tuple[str, str], ...] = (
    (r"\bи\s+т\.\s?д\.", "и так далее"),
    (r"\bи\s+т\.\s?п\.", "и тому подобное"),
    (r"\bи\s+др\.", "и другие"),
)
# After numbers: what is left was not counting anything ("цена в руб." → "цена в рублях" is
# beyond a regex; "рублей" is what a listener expects).
_AFTER_NUMBERS: tuple[tuple[str, str], ...] = (
    (r"\bруб\.?(?![а-яё])", "рублей"),
    (r"\bкоп\.?(?![а-яё])", "копеек"),
    (r"\bшт\.?(?![а-яё])", "штук"),
    (r"\bтыс\.?(?![а-яё])", "тысяч"),
    (r"\bмлн\.?(?![а-яё])", "миллионов"),
    (r"\bмлрд\.?(?![а-яё])", "миллиардов"),
    (r"\bмин\.(?![а-яё])", "минут"),
    (r"\bсм\.\s", "смотрите "),
)


def _keep_capital(replacement: str, *, may_end: bool = False) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        words = replacement
        rest = match.string[match.end() :].lstrip()
        if may_end and (not rest or rest[0].isupper()):
            words += "."
        if match.group()[:1].isupper() and not match.group().isupper():
            words = words[:1].upper() + words[1:]
        following = match.string[match.end() : match.end() + 1]
        if following.isalnum() and not words.endswith(" "):
            words += " "  # "т.е.всё" → "то есть всё"
        return words

    return replace


def _compile(
    rules: tuple[tuple[str, str], ...], *, may_end: bool = False
) -> tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...]:
    return tuple(
        (re.compile(pattern, re.IGNORECASE), _keep_capital(word, may_end=may_end))
        for pattern, word in rules
    )


_BEFORE = _compile(_SENTENCE_TAILS, may_end=True) + _compile(_BEFORE_NUMBERS)
_AFTER = _compile(_AFTER_NUMBERS)
_WEEKDAY_RANGE = re.compile(rf"\b({_WEEKDAY})\s?[–—-]\s?({_WEEKDAY})\b", re.IGNORECASE)
# A lone "сб" is a weekday only where a timetable goes on: "сб 10:00–18:00", "пн, ср".
_WEEKDAY_ALONE = re.compile(rf"\b({_WEEKDAY})\b(?=[\s,:]*(?:\d|(?:{_WEEKDAY})\b))", re.IGNORECASE)


def _weekday_range(match: re.Match[str]) -> str:
    first = _WEEKDAYS.index(match.group(1).lower())
    last = _WEEKDAYS.index(match.group(2).lower())
    return f"с {_WEEKDAY_FROM[first]} по {_WEEKDAY_TO[last]}"


def _weekday_alone(match: re.Match[str]) -> str:
    return WEEKDAYS[_WEEKDAYS.index(match.group(1).lower())]


def expand_before_numbers(text: str) -> str:
    """ "ул. Тверская, д. 7, кв. 12" → "улица Тверская, дом 7, квартира 12"."""
    text = _WEEKDAY_RANGE.sub(_weekday_range, text)
    text = _WEEKDAY_ALONE.sub(_weekday_alone, text)
    for pattern, replace in _BEFORE:
        text = pattern.sub(replace, text)
    return text


def expand_after_numbers(text: str) -> str:
    """Unit abbreviations no number claimed: "цена в руб." → "цена в рублей" at worst."""
    for pattern, replace in _AFTER:
        text = pattern.sub(replace, text)
    return text
