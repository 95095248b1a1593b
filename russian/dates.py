"""Dates for the ear ("завтра", "в субботу, тридцатого ноября") and for SMS ("30.11").

`today` is always an argument: workflow code must not read the clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from russian.numbers import Case, ordinal

DateCase = Literal["gent", "nomn"]

MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
WEEKDAYS_ON = (
    "в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу",
    "в воскресенье",
)  # fmt: skip
WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")

_RELATIVE = {-2: "позавчера", -1: "вчера", 0: "сегодня", 1: "завтра", 2: "послезавтра"}
# A weekday helps only while it is unambiguous: this week, and never today's own weekday.
_WEEKDAY_DAYS = range(3, 7)
# Within half a year "тридцатого ноября" means the nearest one; further away, say the year.
_YEAR_AFTER_DAYS = 183


def say_date(
    date: dt.date, today: dt.date, *, weekday: bool = True, case: DateCase = "gent"
) -> str:
    """A date relative to `today`, as it is said.

    Near dates are words ("сегодня", "завтра", "послезавтра", "вчера"); the rest of the week
    gets its weekday ("в субботу, тридцатого ноября"); later dates are the day and month
    ("тридцатого ноября"), with the year when more than half a year away. `case="gent"` is
    the "when" form (доставим тридцатого ноября); `"nomn"` the naming form (дата — суббота,
    тридцатое ноября).
    """
    delta = (date - today).days
    if delta in _RELATIVE:
        return _RELATIVE[delta]
    words = say_calendar_date(date, case, year=abs(delta) > _YEAR_AFTER_DAYS)
    if weekday and delta in _WEEKDAY_DAYS:
        names = WEEKDAYS_ON if case == "gent" else WEEKDAYS
        words = f"{names[date.weekday()]}, {words}"
    return words


def say_calendar_date(date: dt.date, case: Case = "gent", *, year: bool = False) -> str:
    """2026-11-30 → "тридцатого ноября" ("тридцатое ноября" in the nominative, "тридцатому
    ноября" in the dative: the day takes the case), with " две тысячи двадцать шестого года"
    when `year`."""
    words = f"{ordinal(date.day, 'n', case)} {MONTHS_GENITIVE[date.month - 1]}"
    if year:
        words += f" {ordinal(date.year, 'm', 'gent')} года"
    return words


def short_date(date: dt.date) -> str:
    """For SMS: 2026-11-30 → "30.11"."""
    return f"{date.day:02d}.{date.month:02d}"
