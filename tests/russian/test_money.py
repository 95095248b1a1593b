from __future__ import annotations

import pytest

from russian.money import say_money, short_money


@pytest.mark.parametrize(
    ("kopecks", "spoken", "short"),
    [
        (0, "ноль рублей", "0 ₽"),
        (100, "один рубль", "1 ₽"),
        (200, "два рубля", "2 ₽"),
        (500, "пять рублей", "5 ₽"),
        (1100, "одиннадцать рублей", "11 ₽"),
        (2100, "двадцать один рубль", "21 ₽"),
        (2200, "двадцать два рубля", "22 ₽"),
        (259900, "две тысячи пятьсот девяносто девять рублей", "2599 ₽"),
        (8990, "восемьдесят девять рублей девяносто копеек", "89,90 ₽"),
        (101, "один рубль одна копейка", "1,01 ₽"),
        (202, "два рубля две копейки", "2,02 ₽"),
        (50, "пятьдесят копеек", "0,50 ₽"),
        (1, "одна копейка", "0,01 ₽"),
        (100_000_000, "один миллион рублей", "1000000 ₽"),
        (100_100_000, "один миллион одна тысяча рублей", "1001000 ₽"),
        (239990, "две тысячи триста девяносто девять рублей девяносто копеек", "2399,90 ₽"),
    ],
)
def test_money(kopecks: int, spoken: str, short: str) -> None:
    assert say_money(kopecks) == spoken
    assert short_money(kopecks) == short


def test_money_in_the_genitive() -> None:
    assert say_money(50000, "gent") == "пятисот рублей"
    assert say_money(2100, "gent") == "двадцати одного рубля"


def test_no_currency_mode_artefacts() -> None:
    # num2words' currency mode would append "ноль копеек" or read kopecks as euro cents.
    assert "коп" not in say_money(259900)
    assert "евро" not in say_money(259900)


@pytest.mark.parametrize("function", [say_money, short_money])
def test_negative_money_is_refused(function: object) -> None:
    with pytest.raises(ValueError, match="negative"):
        function(-1)  # type: ignore[operator]
