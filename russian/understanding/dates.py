"""A delivery date said by a caller: "завтра", "в субботу", "тридцатого", "30 ноября",
"на следующей неделе во вторник" → a date on or after `today`.

dateparser does the calendar work (weekdays, months, "через неделю") with
PREFER_DATES_FROM=future and RELATIVE_BASE=today. Around it:

- spoken ordinals become digits first ("тридцатого ноября" → "30 ноября"), since dateparser
  answers None for the genitive ordinals people say;
- a day of the month alone ("тридцатого", "30 числа") is resolved here: dateparser returns a
  past day for it at the end of a month and jumps years for "29" in February;
- "на следующей неделе" moves the base to the end of this week;
- a result must carry the month and day that were said: dateparser sometimes invents one
  ("29 февраля" in a year without it → the 29th of this month, "32" → the year 2032);
- a result more than half a year ahead is a past date dateparser pushed into next year (or
  a time it read as a year): it is refused, so the dialog asks again instead of booking
  next November.

`today` is an argument; the clock is never read.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from functools import lru_cache

import dateparser
from dateparser.search import search_dates

from russian.dates import MONTHS_GENITIVE, WEEKDAYS, WEEKDAYS_ON
from russian.understanding._text import Token, fold, lemma, lemmas, tokens
from russian.understanding.numbers import CORRECTIONS, to_digits
from russian.understanding.ordinals import ordinals_to_digits

# Beyond this a date without a year is not what the caller meant (as `say_date` reads it).
MAX_DAYS_AHEAD = 183
# With these a number is a count of days or an hour, not a day of the month.
_NOT_A_DAY: frozenset[str] = frozenset(
    {"через", "день", "неделя", "месяц", "час", "минута", "утро", "вечер", "год"}
)
# A day named by these makes any number beside it something else ("две штуки на завтра").
_RELATIVE_DAYS: frozenset[str] = frozenset({"сегодня", "завтра", "послезавтра"})
_EXPLICIT_YEAR = re.compile(r"(?<!\d)20\d\d(?!\d)")
# Spoken shapes dateparser has no word for.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![а-я])(?:в|на) выходн\w*"), "в субботу"),
    (re.compile(r"(?<![а-я])(?:на|в) эт\w+ недел\w*"), " "),
    # "в эту / ближайшую / следующую субботу": the coming one, as dateparser reads "в субботу".
    (re.compile(r"(?<![а-я])(?:эту|этот|это|ближайш\w*|следующ\w*) "), ""),
)
_DAY_DOT_MONTH = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})(?![\d/]|\.\d)")
_ORDINAL_ENDING = re.compile(r"(\d+)-(?:го|е|ое|ого|й|ый|ий|му|ому|м|ом)(?![а-я])")
_NEXT_WEEK = re.compile(r"(?:на |в )?следующ\w* недел\w*")


@lru_cache(maxsize=1)
def _month_numbers() -> dict[str, int]:
    """ "ноябрь" → 11. A function, not a constant: importing the module must not load the
    dictionaries."""
    return {lemma(month): number for number, month in enumerate(MONTHS_GENITIVE, start=1)}


def _months() -> tuple[str, ...]:
    return tuple(_month_numbers())


def _settings(base: dt.date) -> dict[str, object]:
    return {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": dt.datetime.combine(base, dt.time()),
        "DATE_ORDER": "DMY",
    }


def _month_name(match: re.Match[str]) -> str:
    day, month = int(match.group(1)), int(match.group(2))
    return f"{day} {MONTHS_GENITIVE[month - 1]}" if 1 <= month <= 12 else match.group()


def _dateparser_form(word: str) -> str:
    """A weekday in any case → the accusative ("к среде" → "к среду"), a month in any case →
    the genitive ("в декабре" → "декабря"): the forms dateparser reads."""
    bare = word.strip(",.!?")
    if not bare.isalpha():
        return word
    found = lemmas(bare)
    for name, on in zip(WEEKDAYS, WEEKDAYS_ON, strict=True):
        if name in found:
            return on.split()[-1]
    for name, number in _month_numbers().items():
        if name in found:
            return MONTHS_GENITIVE[number - 1]
    return word


def _normalise(text: str) -> str:
    spoken = to_digits(ordinals_to_digits(fold(text)))
    # "3-го декабря": the written ordinal ending; dateparser misreads it (as the 27th).
    spoken = _ORDINAL_ENDING.sub(r"\1", spoken)
    # dateparser reads "1.12" as the time 01:12.
    spoken = _DAY_DOT_MONTH.sub(_month_name, spoken)
    # dateparser knows no weekday in the dative or locative: "к среде" → "к среду".
    spoken = " ".join(_dateparser_form(word) for word in spoken.split())
    return " ".join(spoken.split())


def _says_day_of_month(words: Sequence[Token]) -> bool:
    """One number that can be a day, and nothing that makes it a month's day or a count."""
    numbers = [word for word in words if word.text.isdigit()]
    if len(numbers) != 1 or not 1 <= int(numbers[0].text) <= 31:
        return False
    return not any(word.is_(*_months(), *_NOT_A_DAY, *_RELATIVE_DAYS) for word in words)


def _day_of_month(words: Sequence[Token], today: dt.date) -> dt.date | None:
    """ "30", "тридцатого", "30 числа", "в понедельник первого": the nearest such day on or
    after `today` (on the weekday said, if one was: otherwise the caller misspoke)."""
    numbers = [word for word in words if word.text.isdigit()]
    weekdays = {WEEKDAYS.index(name) for word in words for name in WEEKDAYS if word.is_(name)}
    if len(weekdays) > 1:
        return None
    day = int(numbers[0].text)
    year, month = today.year, today.month
    for _ in range(12):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = dt.date(year, month, day)
            if candidate >= today:
                return candidate if weekdays <= {candidate.weekday()} else None
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _rewrite(spoken: str) -> str:
    for pattern, replacement in _REWRITES:
        spoken = pattern.sub(replacement, spoken)
    return " ".join(spoken.split())


def _parse(spoken: str, base: dt.date) -> list[tuple[str, dt.date]]:
    """dateparser on the whole reply, else its search for dates inside it."""
    whole = dateparser.parse(spoken, languages=["ru"], settings=_settings(base))
    if whole is not None:
        return [(spoken, whole.date())]
    found = search_dates(spoken, languages=["ru"], settings=_settings(base)) or []
    return [(substring, moment.date()) for substring, moment in found]


def _within(day: dt.date, today: dt.date, explicit_year: bool) -> bool:
    return day >= today and (explicit_year or (day - today).days <= MAX_DAYS_AHEAD)


def _shortened(substring: str, base: dt.date, today: dt.date) -> dt.date | None:
    """ "5 декабря часов в 10" read as the year 2110: drop words from the end until it fits."""
    words = substring.split()
    for size in range(len(words) - 1, 0, -1):
        moment = dateparser.parse(
            " ".join(words[:size]), languages=["ru"], settings=_settings(base)
        )
        if moment is not None:
            day: dt.date = moment.date()
            if _within(day, today, explicit_year=False):
                return day
    return None


def _choose(spoken: str, hits: Sequence[tuple[str, dt.date]]) -> dt.date | None:
    """One date among the hits: negated ones ("не в субботу") drop out; of several, the last
    counts only after a correction ("в среду, нет, в четверг")."""
    kept: list[tuple[int, int, dt.date]] = []
    cursor = 0
    for substring, day in hits:
        start = spoken.find(substring, cursor)
        start = cursor if start < 0 else start
        cursor = start + len(substring)
        if spoken[:start].rstrip().endswith(" не") or spoken[:start].rstrip() == "не":
            continue
        kept.append((start, cursor, day))
    if not kept:
        return None
    if len({day for _, _, day in kept}) == 1:
        return kept[0][2]
    between = tokens(spoken[kept[-2][1] : kept[-1][0]])
    if any(word.is_(*CORRECTIONS) for word in between):
        return kept[-1][2]
    return None


def parse_delivery_date(text: str, today: dt.date) -> dt.date | None:
    """The date the caller asks for, on or after `today` and at most half a year ahead
    (unless a year is said); None when no date is said, or it is in the past, or unclear."""
    spoken = _normalise(text)
    words = tokens(spoken)
    if not words:
        return None
    if _says_day_of_month(words):
        return _day_of_month(words, today)

    base = today
    if _NEXT_WEEK.search(spoken):
        # The base becomes this Sunday, so "во вторник" lands in next week.
        base = today + dt.timedelta(days=6 - today.weekday())
        spoken = _NEXT_WEEK.sub(" ", spoken)
        if not tokens(spoken):
            return None  # "на следующей неделе" alone names no day
    spoken = _rewrite(spoken)

    spoken = _day_and_month(spoken)
    explicit_year = bool(_EXPLICIT_YEAR.search(spoken))
    hits: list[tuple[str, dt.date]] = []
    for substring, found in _parse(spoken, base):
        if not (_agrees(substring, found) and _agrees(spoken, found, whole=True)):
            continue
        day = (
            found
            if _within(found, today, explicit_year)
            else _repair(substring, found, base, today)
        )
        if day is not None:
            hits.append((substring, day))
    return _choose(spoken, hits)


def _day_and_month(spoken: str) -> str:
    """ "30 числа в ноября", "в декабря 5" → "30 ноября", "5 декабря": one day and one month,
    whatever the words around them, in the order dateparser reads."""
    words = tokens(spoken)
    numbers = [word.text for word in words if word.text.isdigit()]
    months = {n for w in words for name, n in _month_numbers().items() if w.is_(name)}
    if len(numbers) != 1 or len(months) != 1 or any(w.is_(*_NOT_A_DAY) for w in words):
        return spoken
    if _EXPLICIT_YEAR.search(spoken) or any(w.is_(*WEEKDAYS) for w in words):
        return spoken
    return f"{numbers[0]} {MONTHS_GENITIVE[months.pop() - 1]}"


def _agrees(text: str, found: dt.date, *, whole: bool = False) -> bool:
    """The date dateparser made has the month and day that were said; it sometimes makes one
    up ("32" → a year, "30 февраля" → "февраля" alone → the 27th). A `whole` reply is held
    to its numbers only when it names a month too ("давайте две" is no date)."""
    words = tokens(text)
    months = {n for w in words for name, n in _month_numbers().items() if w.is_(name)}
    if months and found.month not in months:
        return False
    if any(word.is_(*_NOT_A_DAY) for word in words) or (whole and not months):
        return True  # "через 2 дня": the number counts days
    numbers = {int(word.text) for word in words if word.text.isdigit()}
    if months and not numbers:
        return False  # "в ноябре": a month is no day
    return not numbers or found.day in numbers or bool(_EXPLICIT_YEAR.search(text))


def _repair(substring: str, found: dt.date, base: dt.date, today: dt.date) -> dt.date | None:
    """A date dateparser placed too far ahead, or None when it cannot be mended."""
    words = tokens(substring)
    names_month = any(word.is_(*_months()) for word in words)
    counts_time = any(word.is_(*_NOT_A_DAY) for word in words)
    if (found.month, found.day) == (today.month, today.day) and names_month and not counts_time:
        # dateparser gives the next occurrence after the base; "30 ноября" said on the 30th
        # of November means today, not next year.
        return today
    shorter = _shortened(substring, base, today) if found > today else None
    return shorter if shorter is not None and _agrees(substring, shorter) else None
