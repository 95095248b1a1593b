"""What may be sent: an E.164 number and at most two UCS-2 segments (134 characters)."""

from __future__ import annotations

import pytest

from activities.interfaces.sms import SmsRequest
from activities.sms import MAX_SMS_UNITS, SmsMessage, SmsRejected, ucs2_units

KEY = "call-1:sms:100245"


def message(text: str, phone: str = "+79161234567", key: str = KEY) -> SmsMessage:
    return SmsMessage.from_request(SmsRequest(idempotency_key=key, phone=phone, text=text))


def test_134_cyrillic_characters_fit_and_135_do_not() -> None:
    assert message("я" * MAX_SMS_UNITS).text == "я" * 134
    with pytest.raises(SmsRejected, match="135 UCS-2 characters; at most 134"):
        message("я" * 135)


def test_characters_outside_the_bmp_count_twice() -> None:
    assert ucs2_units("Спасибо! 🙂") == 11
    assert ucs2_units("2599 ₽") == 6
    with pytest.raises(SmsRejected, match="135 UCS-2"):
        message("я" * 133 + "🙂")


@pytest.mark.parametrize(
    "phone", ["89161234567", "+7 916 123 45 67", "79161234567", "+0123456789", "", "+7916"]
)
def test_only_e164_numbers_are_accepted(phone: str) -> None:
    with pytest.raises(SmsRejected, match=r"E\.164"):
        message("Заказ принят", phone=phone)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_text_is_refused(text: str) -> None:
    with pytest.raises(SmsRejected, match="empty"):
        message(text)


@pytest.mark.parametrize("key", ["", "call 1:sms", "ключ", "k" * 201])
def test_the_key_must_be_usable_as_a_header(key: str) -> None:
    with pytest.raises(SmsRejected, match="idempotency key"):
        message("Заказ принят", key=key)


def test_the_rejection_names_every_problem_and_masks_the_number() -> None:
    with pytest.raises(SmsRejected) as caught:
        message("я" * 200, phone="8 916 123-45-67")
    text = str(caught.value)
    assert "phone" in text and "text" in text
    assert "123-45-67" not in text
