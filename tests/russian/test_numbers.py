from __future__ import annotations

import pytest

from russian.numbers import (
    agree,
    cardinal,
    count_phrase,
    decimal_phrase,
    noun_gender,
    ordinal,
)

# n → (рубль, штука, товар): the three agreement forms and the feminine "одна/две".
AGREEMENT = [
    (0, "ноль рублей", "ноль штук", "ноль товаров"),
    (1, "один рубль", "одна штука", "один товар"),
    (2, "два рубля", "две штуки", "два товара"),
    (3, "три рубля", "три штуки", "три товара"),
    (4, "четыре рубля", "четыре штуки", "четыре товара"),
    (5, "пять рублей", "пять штук", "пять товаров"),
    (11, "одиннадцать рублей", "одиннадцать штук", "одиннадцать товаров"),
    (12, "двенадцать рублей", "двенадцать штук", "двенадцать товаров"),
    (14, "четырнадцать рублей", "четырнадцать штук", "четырнадцать товаров"),
    (21, "двадцать один рубль", "двадцать одна штука", "двадцать один товар"),
    (22, "двадцать два рубля", "двадцать две штуки", "двадцать два товара"),
    (25, "двадцать пять рублей", "двадцать пять штук", "двадцать пять товаров"),
    (101, "сто один рубль", "сто одна штука", "сто один товар"),
    (111, "сто одиннадцать рублей", "сто одиннадцать штук", "сто одиннадцать товаров"),
    (1000, "одна тысяча рублей", "одна тысяча штук", "одна тысяча товаров"),
    (1001, "одна тысяча один рубль", "одна тысяча одна штука", "одна тысяча один товар"),
    (2000, "две тысячи рублей", "две тысячи штук", "две тысячи товаров"),
    (2002, "две тысячи два рубля", "две тысячи две штуки", "две тысячи два товара"),
    (1_000_000, "один миллион рублей", "один миллион штук", "один миллион товаров"),
    (2_000_001, "два миллиона один рубль", "два миллиона одна штука", "два миллиона один товар"),
]


@pytest.mark.parametrize(("n", "rubles", "pieces", "goods"), AGREEMENT)
def test_count_phrase_agrees_noun_and_gender(n: int, rubles: str, pieces: str, goods: str) -> None:
    assert count_phrase(n, "рубль") == rubles
    assert count_phrase(n, "штука") == pieces
    assert count_phrase(n, "товар") == goods


@pytest.mark.parametrize(
    ("noun", "n", "expected"),
    [
        ("рубль", 1, "рубль"),
        ("рубль", 2, "рубля"),
        ("рубль", 5, "рублей"),
        ("рубль", 21, "рубль"),
        ("штука", 1, "штука"),
        ("штука", 2, "штуки"),
        ("штука", 5, "штук"),
        ("копейка", 90, "копеек"),
        ("процент", 3, "процента"),
        # The counting form shops and people use, not the dictionary's "граммов".
        ("грамм", 900, "грамм"),
        ("килограмм", 6, "килограмм"),
        ("грамм", 2, "грамма"),
        ("литр", 5, "литров"),
    ],
)
def test_agree(noun: str, n: int, expected: str) -> None:
    assert agree(noun, n) == expected


@pytest.mark.parametrize(
    ("n", "case", "expected"),
    [
        (1, "gent", "одной штуки"),
        (2, "gent", "двух штук"),
        (21, "gent", "двадцати одной штуки"),
        (1, "accs", "одну штуку"),
        (22, "accs", "двадцать две штуки"),
        (5, "datv", "пяти штукам"),
        (2, "ablt", "двумя штуками"),
    ],
)
def test_count_phrase_in_other_cases(n: int, case: str, expected: str) -> None:
    assert count_phrase(n, "штука", case) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "gender", "expected"),
    [
        (1, "n", "одно"),
        (2, "f", "две"),
        (2, "n", "два"),
        (1_000_000, "f", "один миллион"),  # num2words alone says "одна миллион"
        (1_002_000, "f", "один миллион две тысячи"),
        (3_001, "f", "три тысячи одна"),
        (-2, "f", "минус две"),
        (2599, "m", "две тысячи пятьсот девяносто девять"),
    ],
)
def test_cardinal_gender(n: int, gender: str, expected: str) -> None:
    assert cardinal(n, gender) == expected  # type: ignore[arg-type]


def test_cardinal_of_a_number_beyond_names_is_read_digit_by_digit() -> None:
    assert cardinal(10**20) == " ".join(["один"] + ["ноль"] * 20)


@pytest.mark.parametrize(
    ("n", "gender", "case", "expected"),
    [
        (30, "n", "gent", "тридцатого"),
        (1, "n", "nomn", "первое"),
        (23, "n", "gent", "двадцать третьего"),
        (1, "f", "nomn", "первая"),
        (2026, "m", "gent", "две тысячи двадцать шестого"),
    ],
)
def test_ordinal(n: int, gender: str, case: str, expected: str) -> None:
    assert ordinal(n, gender, case) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("whole", "fraction", "noun", "expected"),
    [
        (3, "2", "процент", "три и две десятых процента"),
        (1, "5", "литр", "полтора литра"),
        (1, "5", "тысяча", "полторы тысячи"),
        (0, "5", "литр", "пол-литра"),
        (0, "5", "килограмм", "полкилограмма"),
        (2, "5", "процент", "два с половиной процента"),
        (82, "5", "процент", "восемьдесят два с половиной процента"),
        (5, "5", "литр", "пять с половиной литров"),
        (0, "9", "литр", "девять десятых литра"),
        (0, "05", "литр", "пять сотых литра"),
        (1, "1", "процент", "одна и одна десятая процента"),
        (2, "50", "литр", "два с половиной литра"),
        (4, "0", "литр", "четыре литра"),
        (1, "25", None, "одна и двадцать пять сотых"),
        (3, "14159", None, "три запятая один четыре один пять девять"),
    ],
)
def test_decimal_phrase(whole: int, fraction: str, noun: str | None, expected: str) -> None:
    assert decimal_phrase(whole, fraction, noun) == expected


@pytest.mark.parametrize(
    ("noun", "gender"), [("штука", "f"), ("рубль", "m"), ("яйцо", "n"), ("сутки", "m")]
)
def test_noun_gender(noun: str, gender: str) -> None:
    assert noun_gender(noun) == gender
