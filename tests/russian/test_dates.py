from __future__ import annotations

import datetime as dt

import pytest

from russian.dates import say_calendar_date, say_date, short_date

FRIDAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-3, "двадцать четвёртого ноября"),
        (-2, "позавчера"),
        (-1, "вчера"),
        (0, "сегодня"),
        (1, "завтра"),
        (2, "послезавтра"),
        (3, "в понедельник, тридцатого ноября"),
        (4, "во вторник, первого декабря"),
        (5, "в среду, второго декабря"),
        (6, "в четверг, третьего декабря"),
        (7, "четвёртого декабря"),  # a week ahead: "в пятницу" could be misheard as today
        (10, "седьмого декабря"),
    ],
)
def test_say_date_relative_to_today(days: int, expected: str) -> None:
    assert say_date(FRIDAY + dt.timedelta(days=days), FRIDAY) == expected


@pytest.mark.parametrize(
    ("date", "today", "expected"),
    [
        (dt.date(2026, 12, 31), dt.date(2026, 12, 30), "завтра"),
        (dt.date(2027, 1, 1), dt.date(2026, 12, 30), "послезавтра"),
        (dt.date(2027, 1, 2), dt.date(2026, 12, 30), "в субботу, второго января"),
        (dt.date(2027, 1, 15), dt.date(2026, 12, 30), "пятнадцатого января"),
        (dt.date(2027, 3, 8), dt.date(2026, 12, 30), "восьмого марта"),
        (dt.date(2027, 7, 2), dt.date(2026, 12, 30),
         "второго июля две тысячи двадцать седьмого года"),
        (dt.date(2026, 2, 28), dt.date(2026, 12, 30),
         "двадцать восьмого февраля две тысячи двадцать шестого года"),
        (dt.date(2028, 2, 29), dt.date(2028, 2, 1), "двадцать девятого февраля"),
    ],
)  # fmt: skip
def test_say_date_across_months_and_the_new_year(
    date: dt.date, today: dt.date, expected: str
) -> None:
    assert say_date(date, today) == expected


def test_nominative_for_naming_a_date() -> None:
    assert say_date(FRIDAY + dt.timedelta(days=3), FRIDAY, case="nomn") == (
        "понедельник, тридцатое ноября"
    )
    assert say_date(FRIDAY + dt.timedelta(days=10), FRIDAY, case="nomn") == "седьмое декабря"


def test_weekday_can_be_left_out() -> None:
    assert say_date(FRIDAY + dt.timedelta(days=3), FRIDAY, weekday=False) == "тридцатого ноября"


def test_calendar_date_with_year() -> None:
    assert say_calendar_date(dt.date(2026, 11, 30), year=True) == (
        "тридцатого ноября две тысячи двадцать шестого года"
    )


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (dt.date(2026, 11, 30), "30.11"),
        (dt.date(2027, 1, 2), "02.01"),
        (dt.date(2026, 5, 9), "09.05"),
    ],
)
def test_short_date(date: dt.date, expected: str) -> None:
    assert short_date(date) == expected
