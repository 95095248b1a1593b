"""core/phones.py: one normal form (E.164) and a mask that never shows the whole number."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.phones import InvalidPhone, mask_phone, mask_phones_in, normalise_phone

ANNA = "+79161234567"

SAME_NUMBER = [
    "+79161234567",
    "89161234567",
    "79161234567",
    "9161234567",
    "8 916 123-45-67",
    "8 (916) 123-45-67",
    "8(916)1234567",
    "+7 (916) 123 45 67",
    "+7 (916) 123-45-67",
    "+7-916-123-45-67",
    "7 916 123 45 67",
    "916 123 45 67",
    "  +79161234567  ",
    "+7 916 123 45 67 ",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_russian_forms_become_e164(raw: str) -> None:
    assert normalise_phone(raw) == ANNA


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 800 555 35 35", "+78005553535"),
        ("+7 495 123 45 67", "+74951234567"),
        ("8 (495) 123-45-67", "+74951234567"),
        ("+1 212 555 0100", "+12125550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_other_numbers(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


def test_normal_form_is_a_fixed_point() -> None:
    for raw in SAME_NUMBER:
        assert normalise_phone(normalise_phone(raw)) == ANNA


INVALID = [
    "",
    "   ",
    "+",
    "abc",
    "телефон",
    "+7 916 abc 45 67",
    "+7 916 123 45 6",  # too short
    "8916123456",  # too short
    "123",
    "+791612345678",  # too long
    "89161234567890123",  # too long
    "++79161234567",
    "+7.916.123.45.67",
    "+7(916)123-45-67 доб 1",
    "+7\t916 123 45 67",
    "+7 916\n1234567",
    "0000000000",
    "+70000000000",
    "+8 916 123 45 67",
    "+7 916 123 45 67; DROP TABLE",
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(raw)


def test_invalid_phone_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalise_phone("abc")


@pytest.mark.parametrize("raw", ["+7 916 123 45 6", "+791612345678", "8 916 123 45 67 89"])
def test_error_message_does_not_repeat_the_number(raw: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalise_phone(raw)
    digits = re.sub(r"\D", "", raw)
    assert digits not in re.sub(r"\D", "", str(info.value))


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+79161234567", "+7916***4567"),
        ("89161234567", "8916***4567"),
        ("+7 (916) 123-45-67", "+7916***4567"),
        ("+442079460958", "+4420***0958"),
        ("123456789", "1234***6789"),
        ("1234567", "***"),
        ("abc", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def shown_digits(masked: str) -> str:
    return re.sub(r"\D", "", masked)


@settings(deadline=None, max_examples=300, database=None)
@given(st.text(alphabet="+0123456789 ()-абв\t", max_size=40))
def test_mask_never_shows_more_than_four_and_four(phone: str) -> None:
    masked = mask_phone(phone)
    digits = re.sub(r"\D", "", phone)
    shown = shown_digits(masked)
    assert len(shown) <= 8
    if shown:
        assert shown == digits[:4] + digits[-4:]
        assert "***" in masked
    if len(digits) > 8:
        assert digits not in shown


@settings(deadline=None, max_examples=200, database=None)
@given(
    st.sampled_from(["903", "916", "926", "967", "985"]),
    st.from_regex(r"[0-9]{7}", fullmatch=True),
)
def test_mobile_numbers_normalise_and_mask(operator: str, subscriber: str) -> None:
    local = operator + subscriber
    for raw in (f"8{local}", f"+7{local}", f"7 {local[:3]} {local[3:6]}-{local[6:8]}-{local[8:]}"):
        phone = normalise_phone(raw)
        assert phone == f"+7{local}"
        assert mask_phone(phone) == f"+7{local[:3]}***{local[-4:]}"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("звонок с 8 (903) 111-22-33, заказ 100245", "звонок с 8903***2233, заказ 100245"),
        # Long enough to look like a number, too few digits to be one: stays readable.
        ("сумма 12 345 678 руб", "сумма 12 345 678 руб"),
        ("код (12) 34-56-78", "код (12) 34-56-78"),
    ],
)
def test_mask_phones_in_text_masks_only_full_numbers(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked
