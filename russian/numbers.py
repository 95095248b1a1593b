"""Numbers as words: cardinals and ordinals in any gender and case, nouns agreed with them.

num2words spells the numbers; pymorphy3 inflects the nouns ("1 рубль, 2 рубля, 5 рублей").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from num2words import num2words  # type: ignore[import-untyped]

from russian._morph import morph

Gender = Literal["m", "f", "n"]
Case = Literal["nomn", "gent", "datv", "accs", "ablt", "loct"]

_N2W_CASE: dict[Case, str] = {
    "nomn": "n",
    "gent": "g",
    "datv": "d",
    "accs": "a",
    "ablt": "i",
    "loct": "p",
}
# pymorphy3's gender grammemes → ours.
GENDERS: dict[str, Gender] = {"masc": "m", "femn": "f", "neut": "n"}

# The counting form people say and shop labels use: "девятьсот грамм", not "граммов".
_COUNTING_FORM = {
    "грамм": "грамм",
    "килограмм": "килограмм",
    "миллиграмм": "миллиграмм",
}

# Digits after the decimal comma → the fraction's name (one, and two-or-more).
_DENOMINATORS: tuple[tuple[str, str], ...] = (
    ("десятая", "десятых"),
    ("сотая", "сотых"),
    ("тысячная", "тысячных"),
)


# num2words has names up to 10**27; a longer run of digits is no quantity anyone says.
_LARGEST = 10**18


def _n2w(n: int, **kwargs: Any) -> str:
    if abs(n) >= _LARGEST:
        return " ".join(str(num2words(int(digit), lang="ru")) for digit in str(abs(n)))
    return str(num2words(n, lang="ru", animate=False, **kwargs))


def cardinal(n: int, gender: Gender = "m", case: Case = "nomn") -> str:
    """2599 → "две тысячи пятьсот девяносто девять"; (2, "f") → "две"; (21, "m", "gent") →
    "двадцати одного"."""
    if n < 0:
        return "минус " + cardinal(-n, gender, case)
    low = n % 1000
    high = n - low
    if gender == "m" or low == 0:
        # Gender only touches the last group; num2words gets it wrong above it ("одна миллион").
        return _n2w(n, case=_N2W_CASE[case])
    low_words = _n2w(low, case=_N2W_CASE[case], gender=gender)
    if high == 0:
        return low_words
    return f"{_n2w(high, case=_N2W_CASE[case])} {low_words}"


def ordinal(n: int, gender: Gender = "m", case: Case = "nomn", *, plural: bool = False) -> str:
    """(30, "n", "gent") → "тридцатого"; (1, "f") → "первая"; (2026, "m", "gent") → "две тысячи
    двадцать шестого"."""
    return _n2w(n, to="ordinal", case=_N2W_CASE[case], gender=gender, plural=plural)


@lru_cache(maxsize=512)
def _noun(lemma: str) -> Any:
    """The dictionary form of a noun; the first parse when the word is not a known noun."""
    parses = morph().parse(lemma)
    wanted = lemma.lower().replace("ё", "е")
    for parse in parses:
        tag = parse.tag
        if "NOUN" in tag and tag.case == "nomn" and parse.word.replace("ё", "е") == wanted:
            return parse
    return parses[0]


def noun_gender(lemma: str) -> Gender:
    """ "штука" → "f", "рубль" → "m", "яйцо" → "n"; no gender ("сутки") counts as "m"."""
    return GENDERS.get(str(_noun(lemma).tag.gender), "m")


@lru_cache(maxsize=4096)
def agree(noun_lemma: str, n: int, case: Case = "nomn") -> str:
    """The noun in the form a number asks for: ("рубль", 5) → "рублей", ("штука", 2) → "штуки",
    ("рубль", 21, "gent") → "рубля"."""
    parse = _noun(noun_lemma)
    if case != "nomn":
        parse = parse.inflect({case}) or parse
    agreed = parse.make_agree_with_number(abs(n)) or parse
    word = str(agreed.word)
    counting = _COUNTING_FORM.get(str(agreed.normal_form))
    if counting and {"plur", "gent"} <= set(agreed.tag.grammemes):
        word = counting
    return word


def count_phrase(n: int, noun_lemma: str, case: Case = "nomn") -> str:
    """(2, "штука") → "две штуки"; (21, "товар") → "двадцать один товар"."""
    return f"{cardinal(n, noun_gender(noun_lemma), case)} {agree(noun_lemma, n, case)}"


def singular_genitive(noun_lemma: str) -> str:
    """What follows a fraction: "литр" → "литра" ("полтора литра", "две десятых литра")."""
    form = _noun(noun_lemma).inflect({"sing", "gent"})
    return str(form.word) if form else noun_lemma


def decimal_phrase(whole: int, fraction: str, noun_lemma: str | None = None) -> str:
    """A decimal as people say it, with its noun when given.

    (1, "5", "литр") → "полтора литра"; (2, "5", "процент") → "два с половиной процента";
    (0, "5", "литр") → "пол-литра"; (3, "2", "процент") → "три и две десятых процента";
    (0, "9", "литр") → "девять десятых литра".
    """
    fraction = fraction.rstrip("0")
    gender = noun_gender(noun_lemma) if noun_lemma else "m"
    if not fraction:
        if noun_lemma is None:
            return cardinal(whole)
        return f"{cardinal(whole, gender)} {agree(noun_lemma, whole)}"
    if fraction == "5" and noun_lemma is not None:
        return _half_phrase(whole, noun_lemma, gender)
    if len(fraction) > len(_DENOMINATORS):
        # Nobody says "четырнадцать тысяч сто пятьдесят девять стотысячных": read the digits.
        digits = " ".join(cardinal(int(d)) for d in fraction)
        words = f"{cardinal(whole)} запятая {digits}"
        return f"{words} {singular_genitive(noun_lemma)}" if noun_lemma else words
    numerator = int(fraction)
    one, many = _DENOMINATORS[len(fraction) - 1]
    name = one if numerator % 10 == 1 and numerator % 100 != 11 else many
    words = f"{cardinal(numerator, 'f')} {name}"
    if whole:
        words = f"{cardinal(whole, 'f')} и {words}"
    return f"{words} {singular_genitive(noun_lemma)}" if noun_lemma else words


def _half_phrase(whole: int, noun_lemma: str, gender: Gender) -> str:
    if whole == 0:
        genitive = singular_genitive(noun_lemma)
        # Spelling rule: a hyphen before a vowel or "л" (пол-литра, пол-арбуза), else none.
        joiner = "-" if genitive[:1] in "аеёиоуыэюял" else ""
        return f"пол{joiner}{genitive}"
    if whole == 1:
        return f"{'полторы' if gender == 'f' else 'полтора'} {singular_genitive(noun_lemma)}"
    noun = agree(noun_lemma, whole)
    if whole % 10 == 1:
        # "двадцать один с половиной процента": a fraction never takes the nominative.
        noun = singular_genitive(noun_lemma)
    return f"{cardinal(whole, gender)} с половиной {noun}"
