"""Digits in running text → words. Each pass handles one shape of number, most specific first
(phones, dates, times, ordinals, ranges, packs), and the last pass takes any number left, so
no digit survives.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from russian.context import case_after, gender_of, word_after, word_before
from russian.dates import MONTHS_GENITIVE, say_calendar_date
from russian.letters import LETTER_NAMES
from russian.money import say_money
from russian.numbers import (
    Case,
    Gender,
    agree,
    cardinal,
    count_phrase,
    decimal_phrase,
    noun_gender,
    ordinal,
)
from russian.order_numbers import say_digits
from russian.phones import say_phone
from russian.units import (
    MONEY,
    MULTIPLIER_PATTERN,
    MULTIPLIERS,
    PORTION_UNITS,
    UNIT_PATTERN,
    unit_lemma,
)

Handler = Callable[[re.Match[str]], str]

_FLAGS = re.IGNORECASE
_DASH = r"\s?[–—-]\s?"
_SPACE = r"[\s\u00a0\u202f]"
_NUM = r"\d+(?:[.,]\d+)?"
_MONTHS = "|".join(MONTHS_GENITIVE)
_LETTER = r"[A-Za-zА-Яа-яЁё]"


# Ordinal endings ("1-я", "5-го", "2-й") and the forms to try, most likely first.
_ORDINAL_SUFFIX = (
    r"ый|ой|ий|ая|яя|ое|ее|ые|ие|ого|его|ому|ему|ым|им|ом|ем|ую|юю|ых|их|ыми|ими"
    r"|й|я|е|го|му|м|ю|х|ми"
)
_ORDINAL_FORMS: tuple[tuple[Gender, Case, bool], ...] = (
    ("m", "nomn", False), ("f", "nomn", False), ("n", "nomn", False), ("m", "nomn", True),
    ("m", "gent", False), ("f", "gent", False), ("m", "datv", False), ("f", "accs", False),
    ("m", "loct", False), ("m", "ablt", False), ("m", "gent", True), ("m", "datv", True),
    ("m", "ablt", True),
)  # fmt: skip
_YEAR_WORD_CASES: dict[str, Case] = {"год": "nomn", "года": "gent", "году": "loct", "годом": "ablt"}
# After these words a number is an identifier, read in groups: "заказ сто, двести сорок пять".
_IDENTIFIER_WORD = re.compile(r"^(заказ|номер)", _FLAGS)
_SHORTEST_IDENTIFIER = 3  # "для заказа 2 упаковки" still counts packs
_LONG_NUMBER = 5  # digits; a bare number this long is a code, not a quantity


def _ascii_digits(text: str) -> str:
    # Other scripts' digits ("１２") mean the same; one alphabet keeps the passes simple.
    return re.sub(r"\d", lambda m: str(unicodedata.digit(m.group())), text)


def _split_number(written: str) -> tuple[int, str]:
    whole, _, fraction = written.replace(",", ".").partition(".")
    return int(re.sub(r"\D", "", whole)), fraction


def _kopecks(whole: int, fraction: str) -> int:
    return whole * 100 + round(int((fraction + "00")[:3]) / 10)


def _unit(match: re.Match[str]) -> str | None:
    written = match.groupdict().get("unit")
    return unit_lemma(written) if written else None


def _keep_sentence_end(match: re.Match[str]) -> str:
    """An abbreviation's dot may also end the sentence ("стоит 5 руб. Спасибо")."""
    if not match.groupdict().get("dot"):
        return ""
    rest = match.string[match.end() :].lstrip()
    return "." if not rest or rest[0].isupper() else ""


def _quantity(
    written: str, lemma: str | None, case: Case, *, mult: str | None = None, noun: bool = True
) -> str:
    """A number with its unit: "2 599" + рубль → "две тысячи пятьсот девяносто девять рублей"."""
    whole, fraction = _split_number(written)
    if mult:
        multiplier = MULTIPLIERS[mult.lower().rstrip(".")]
        words = (
            decimal_phrase(whole, fraction, multiplier)
            if fraction
            else count_phrase(whole, multiplier, case)
        )
        # "две тысячи рублей", "полтора миллиона рублей": after a multiplier, always many.
        return f"{words} {agree(lemma, 5, case)}" if lemma and noun else words
    if lemma == MONEY and noun:
        return say_money(_kopecks(whole, fraction), case)
    if fraction:
        return decimal_phrase(whole, fraction, lemma if noun else None)
    if lemma is None:
        return cardinal(whole, "m", case)
    words = cardinal(whole, noun_gender(lemma), case)
    return f"{words} {agree(lemma, whole, case)}" if noun else words


def _url(match: re.Match[str]) -> str:
    return ""


def _phone(match: re.Match[str]) -> str:
    return say_phone(match.group())


def _letter_before_digit(match: re.Match[str]) -> str:
    return f"{LETTER_NAMES.get(match.group(1), match.group(1))} "


def _letter_after_digit(match: re.Match[str]) -> str:
    return f" {LETTER_NAMES.get(match.group(1), match.group(1))}"


def _number_sign(match: re.Match[str]) -> str:
    return f"номер {say_digits(match.group(1))}"


def _date_numeric(match: re.Match[str]) -> str:
    day, month, year = match.group(1), match.group(2), match.group(3)
    full_year = int(year) + 2000 if year and len(year) == 2 else int(year or 2000)
    try:
        date = dt.date(full_year, int(month), int(day))
    except ValueError:
        return match.group()  # not a date after all ("1.50"): the number pass takes it
    return say_calendar_date(date, _date_case(match), year=bool(year))


def _date_case(match: re.Match[str]) -> Case:
    before = word_before(match.string, match.start())
    if before in ("на", "по", "в"):
        return "accs"  # "на тридцатое ноября"
    if before in ("к", "ко"):
        return "datv"
    return "gent"


def _date_words(match: re.Match[str]) -> str:
    first, last, month, year = match.group(1), match.group(2), match.group(3), match.group(4)
    month_name = month.lower()
    year_words = f" {ordinal(int(year), 'm', 'gent')} года" if year else ""
    if last:
        # "1–5 декабря" → "с первого по пятое декабря"
        opening = "" if word_before(match.string, match.start()) in ("с", "со") else "с "
        return (
            f"{opening}{ordinal(int(first), 'n', 'gent')} по {ordinal(int(last), 'n', 'accs')} "
            f"{month_name}{year_words}"
        )
    return f"{ordinal(int(first), 'n', _date_case(match))} {month_name}{year_words}"


def _time_words(hours: str, minutes: str, case: Case) -> str:
    words = cardinal(int(hours), "m", case)
    if minutes == "00":
        return words
    if minutes.startswith("0"):
        return f"{words} ноль {cardinal(int(minutes), 'f', case)}"
    return f"{words} {cardinal(int(minutes), 'f', case)}"


def _time(match: re.Match[str]) -> str:
    before = word_before(match.string, match.start())
    if match.group(3):
        start = _time_words(match.group(1), match.group(2), "gent")
        end = _time_words(match.group(3), match.group(4), "gent")
        return f"{start} до {end}" if before in ("с", "со", "от") else f"с {start} до {end}"
    return _time_words(match.group(1), match.group(2), case_after(before))


def _ordinal_suffix(match: re.Match[str]) -> str:
    number, suffix = int(match.group(1)), match.group(2).lower()
    for gender, case, plural in _ORDINAL_FORMS:
        words = ordinal(number, gender, case, plural=plural)
        if words.endswith(suffix):
            return words
    return ordinal(number)


def _range(match: re.Match[str]) -> str:
    before = word_before(match.string, match.start())
    lemma, mult = _unit(match), match.group("mult")
    first, last = match.group(1), match.group(2)
    if "," in first + last or "." in first + last:
        # Decimals do not decline well ("от полутора"): say "полтора — два литра".
        start = _quantity(first, lemma, "nomn", mult=mult, noun=False)
        return f"{start} — {_quantity(last, lemma, 'nomn', mult=mult)}{_keep_sentence_end(match)}"
    start = _quantity(first, lemma, "gent", mult=mult, noun=False)
    end = _quantity(last, lemma, "gent", mult=mult)
    opening = "" if before in ("с", "со", "от") else "от "
    return f"{opening}{start} до {end}{_keep_sentence_end(match)}"


def _pack(match: re.Match[str]) -> str:
    lemma = _unit(match)
    joiner = "по" if lemma in PORTION_UNITS else "на"
    count = cardinal(int(match.group(1)))
    return f"{count} {joiner} {_quantity(match.group(2), lemma, 'nomn')}{_keep_sentence_end(match)}"


def _slash(match: re.Match[str]) -> str:
    return f"{cardinal(int(match.group(1)))} дробь {cardinal(int(match.group(2)))}"


def _number(match: re.Match[str]) -> str:
    lemma, mult, fraction = _unit(match), match.group("mult"), match.group("frac")
    written = f"{match.group('num')}.{fraction}" if fraction else match.group("num")
    text, start, end = match.string, match.start(), match.end()
    before, after = word_before(text, start), word_after(text, end)
    digits = re.sub(r"\D", "", written)
    if (
        lemma == "грамм"
        and written.isdigit()
        and match.group("dot")
        and 1800 <= int(digits) <= 2100
    ):
        return f"{ordinal(int(digits), 'm', 'gent')} года"  # "2026 г." is a year
    if lemma is None and mult is None and not fraction:
        if _IDENTIFIER_WORD.match(before) and len(digits) >= _SHORTEST_IDENTIFIER:
            return say_digits(digits)
        # Written in one run, a long number or one with a leading zero is a code; "2 599 000",
        # grouped by thousands, is an amount.
        if written.isdigit() and (
            len(digits) >= _LONG_NUMBER or (len(digits) > 1 and digits.startswith("0"))
        ):
            return say_digits(digits)
        year_case = _YEAR_WORD_CASES.get(after.lower())
        if year_case:
            if year_case == "loct" and before in ("к", "ко", "по"):
                year_case = "datv"
            return ordinal(int(digits), "m", year_case)
        gender = gender_of(after) if after else None
        return cardinal(int(digits), gender or "m", case_after(before, after))
    case = case_after(before, after if lemma is None else "")
    return f"{_quantity(written, lemma, case, mult=mult)}{_keep_sentence_end(match)}"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


_UNIT_TAIL = rf"(?:{_SPACE}?{MULTIPLIER_PATTERN})?(?:{_SPACE}?{UNIT_PATTERN})?"

PASSES: tuple[tuple[re.Pattern[str], Handler], ...] = (
    (_compile(r"\bhttps?://\S+|\bwww\.\S+|\S+@\S+\.[a-z]{2,}"), _url),
    (
        _compile(
            r"(?<![\d\w+])(?:\+7|8)[\s\-\u00a0]*\(?\d{3}\)?[\s\-\u00a0]*\d{3}[\s\-\u00a0]*"
            r"\d{2}[\s\-\u00a0]*\d{2}(?![\d])|\+\d[\d\s\-()]{8,}\d"
        ),
        _phone,
    ),
    (re.compile(rf"(?<!{_LETTER})([A-ZА-ЯЁ])(?=\d)"), _letter_before_digit),
    (re.compile(rf"(?<=\d)([A-ZА-ЯЁ])(?!{_LETTER})"), _letter_after_digit),
    (_compile(r"№\s*(\d+)"), _number_sign),
    (
        _compile(
            rf"(?<![\d.,])(\d{{1,2}})\.(\d{{2}})(?:\.(\d{{4}}|\d{{2}}))?(?![\d]|[.,]\d)"
            rf"(?!{_SPACE}?{UNIT_PATTERN})"
        ),
        _date_numeric,
    ),
    (
        _compile(
            rf"(?<![\d.,])(\d{{1,2}})(?:{_DASH}(\d{{1,2}}))?{_SPACE}+({_MONTHS})\b"
            rf"(?:{_SPACE}+(\d{{4}})(?:{_SPACE}*(?:года|г\.?))?)?"
        ),
        _date_words,
    ),
    (
        _compile(r"(?<![\d.,:])(\d{1,2}):(\d{2})(?:" + _DASH + r"(\d{1,2}):(\d{2}))?(?![\d:])"),
        _time,
    ),
    (_compile(rf"(\d+){_SPACE}?-{_SPACE}?({_ORDINAL_SUFFIX})(?![а-яё])"), _ordinal_suffix),
    (_compile(rf"(?<![\d.,])({_NUM}){_DASH}({_NUM})(?![\d]|-\d){_UNIT_TAIL}"), _range),
    (_compile(rf"(\d+){_SPACE}?[×xх*]{_SPACE}?({_NUM}){_UNIT_TAIL}"), _pack),
    (_compile(r"(\d+)\s?/\s?(\d+)"), _slash),
    (
        _compile(
            rf"(?<!\d)(?P<num>\d{{1,3}}(?:[ \u00a0\u202f]\d{{3}})+(?!\d)|\d+)"
            rf"(?:[.,](?P<frac>\d+))?{_UNIT_TAIL}"
        ),
        _number,
    ),
)


def _spaced(handler: Handler) -> Handler:
    """Words must not stick to letters the digits touched: "1e5" → "один e пять"."""

    def replace(match: re.Match[str]) -> str:
        words = handler(match)
        if not words or words == match.group():
            return words
        text, start, end = match.string, match.start(), match.end()
        if start and text[start - 1].isalnum():
            words = " " + words
        if end < len(text) and text[end].isalnum():
            words += " "
        return words

    return replace


_SPACED_PASSES = tuple((pattern, _spaced(handler)) for pattern, handler in PASSES)


def verbalise_numbers(text: str) -> str:
    """Every number in `text` as words (see the passes above); the rest is left as it is."""
    text = _ascii_digits(text)
    for pattern, handler in _SPACED_PASSES:
        text = pattern.sub(handler, text)
    return text
