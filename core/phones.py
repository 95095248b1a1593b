"""Phone numbers: one normal form (E.164) and one masked form for logs and the UI."""

from __future__ import annotations

import re

import phonenumbers

_ALLOWED = re.compile(r"^\+?[0-9][0-9 ()\-]{3,30}$")
# A run of digits with the usual separators, long enough to be a full phone number. Order
# numbers (6 digits), amounts and ids are shorter or contain letters, so they stay readable.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s()\-]{8,20}\d")
_MIN_PHONE_DIGITS = 10


class InvalidPhone(ValueError):
    """The text is not a phone number we can call or text back."""


def normalise_phone(raw: str, region: str = "RU") -> str:
    """`8 916 123-45-67`, `+7 (916) 123 45 67` and `79161234567` → `+79161234567`."""
    text = raw.strip()
    if not _ALLOWED.match(text):
        raise InvalidPhone(f"not a phone number: {mask_phone(text)!r}")
    digits = re.sub(r"\D", "", text)
    # Eleven digits starting with 7 and no plus are a Russian number written without "+".
    if not text.startswith("+") and len(digits) == 11 and digits.startswith("7"):
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {mask_phone(text)!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(f"not a valid phone number: {mask_phone(text)!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str:
    """`+79161234567` → `+7916***4567`: enough to recognise a caller, not to call them."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "***"
    prefix = "+" if phone.strip().startswith("+") else ""
    return f"{prefix}{digits[:4]}***{digits[-4:]}"


def mask_phones_in(text: str) -> str:
    """Every phone-like number in `text` in its masked form (`+7916***4567`)."""

    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        if sum(ch.isdigit() for ch in found) < _MIN_PHONE_DIGITS:
            return found
        return mask_phone(found)

    return _PHONE_LIKE.sub(mask, text)
