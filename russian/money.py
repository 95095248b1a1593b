"""Money in kopecks, for the ear ("восемьдесят девять рублей девяносто копеек") and for SMS.

num2words' currency mode reads an int as euro cents and always appends "00 копеек", so the
words are built here from cardinals and agreed nouns.
"""

from __future__ import annotations

from russian.numbers import Case, count_phrase


def say_money(kopecks: int, case: Case = "nomn") -> str:
    """259900 → "две тысячи пятьсот девяносто девять рублей"; 8990 → "восемьдесят девять рублей
    девяносто копеек"; 50 → "пятьдесят копеек"; 0 → "ноль рублей"."""
    if kopecks < 0:
        raise ValueError(f"money cannot be negative: {kopecks}")
    rubles, rest = divmod(kopecks, 100)
    if rubles == 0 and rest:
        return count_phrase(rest, "копейка", case)
    words = count_phrase(rubles, "рубль", case)
    if rest:
        words += " " + count_phrase(rest, "копейка", case)
    return words


def short_money(kopecks: int) -> str:
    """For SMS: 259900 → "2599 ₽", 8990 → "89,90 ₽" (no thousands separator: every
    character counts in a UCS-2 message)."""
    if kopecks < 0:
        raise ValueError(f"money cannot be negative: {kopecks}")
    rubles, rest = divmod(kopecks, 100)
    return f"{rubles},{rest:02d} ₽" if rest else f"{rubles} ₽"
