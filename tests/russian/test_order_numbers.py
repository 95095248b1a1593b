from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from russian.numbers import cardinal
from russian.order_numbers import digit_groups, say_digits, say_order_number

_VALUES = {cardinal(value): value for value in range(1000)}


def write_down(spoken: str) -> str:
    """What a caller writes while listening: each group's number, with a 0 per "ноль"."""
    digits = []
    for group in spoken.split(", "):
        words = group.split(" ")
        zeros = 0
        while zeros < len(words) - 1 and words[zeros] == "ноль":
            zeros += 1
        rest = " ".join(words[zeros:])
        digits.append("0" * zeros + str(_VALUES[rest]))
    return "".join(digits)


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        ("100245", "сто, двести сорок пять"),
        ("102045", "сто два, ноль сорок пять"),
        ("100000", "сто, ноль ноль ноль"),
        ("000123", "ноль ноль ноль, сто двадцать три"),
        ("050505", "ноль пятьдесят, пятьсот пять"),
        ("999999", "девятьсот девяносто девять, девятьсот девяносто девять"),
        ("12345", "сто двадцать три, сорок пять"),
        ("10005", "сто, ноль пять"),
        ("01234", "ноль двенадцать, тридцать четыре"),
        ("1002450", "сто, двадцать четыре, пятьдесят"),
        ("1234567", "сто двадцать три, сорок пять, шестьдесят семь"),
        ("0000007", "ноль ноль ноль, ноль ноль, ноль семь"),
        ("1234", "двенадцать, тридцать четыре"),
        ("12345678", "сто двадцать три, четыреста пятьдесят шесть, семьдесят восемь"),
        ("7", "семь"),
        ("0", "ноль"),
        ("10", "десять"),
        ("100", "сто"),
        ("100 245", "сто, двести сорок пять"),
        ("100-245", "сто, двести сорок пять"),
    ],
)
def test_say_order_number(number: str, spoken: str) -> None:
    assert say_order_number(number) == spoken


@pytest.mark.parametrize(
    ("digits", "groups"),
    [
        ("1", ["1"]),
        ("12", ["12"]),
        ("123", ["123"]),
        ("1234", ["12", "34"]),
        ("12345", ["123", "45"]),
        ("123456", ["123", "456"]),
        ("1234567", ["123", "45", "67"]),
        ("12345678", ["123", "456", "78"]),
        ("123456789", ["123", "456", "789"]),
        ("1234567890", ["123", "456", "78", "90"]),
    ],
)
def test_groups_are_threes_and_never_end_on_a_lone_digit(digits: str, groups: list[str]) -> None:
    assert digit_groups(digits) == groups


@given(st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_a_listener_can_write_every_number_down(digits: str) -> None:
    spoken = say_digits(digits)
    assert write_down(spoken) == digits
    assert all(1 < len(group) <= 3 for group in digit_groups(digits)) or len(digits) == 1


@pytest.mark.parametrize("bad", ["", "12a45", "١٢٣", "+100245"])
def test_not_digits_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        say_order_number(bad)
