"""Delivery addresses: in full for the read-back, short for the SMS."""

from __future__ import annotations

import re

from russian.letters import LETTER_NAMES
from russian.numbers import cardinal
from russian.text import normalise_for_tts
from store_api.contract import AddressOut

_HOUSE_PREFIX = re.compile(r"^\s*(?:д\.|дом)\s*", re.IGNORECASE)
_APARTMENT_PREFIX = re.compile(r"^\s*(?:кв\.|квартира)\s*", re.IGNORECASE)
_HOUSE_PART = re.compile(
    r"^(?P<house>\d+)\s*(?P<letter>[А-ЯЁа-яё](?![а-яё]))?\s*"
    r"(?:(?P<kind>к|корп\.?|корпус|с|стр\.?|строение)\s*(?P<part>\d+))?$",
    re.IGNORECASE,
)
_HOUSE_FRACTION = re.compile(r"^(\d+)\s*/\s*(\d+)$")
# The house number after a street and a comma, as addresses of pickup points are written.
_STREET_THEN_HOUSE = re.compile(r"^([^,]+),\s*(\d+[^,\s]*)(.*)$")

# Street kinds and their short forms; SMS space is short (`sms.py`).
STREET_KINDS: tuple[tuple[str, str], ...] = (
    ("улица", "ул."),
    ("проспект", "пр-т"),
    ("переулок", "пер."),
    ("бульвар", "б-р"),
    ("набережная", "наб."),
    ("шоссе", "ш."),
    ("площадь", "пл."),
    ("проезд", "пр."),
    ("микрорайон", "мкр."),
)


def say_house(house: str) -> str:
    """The house number alone: "7" → "семь", "12А" → "двенадцать а", "7к2" → "семь, корпус
    два", "7/1" → "семь дробь один"."""
    text = _HOUSE_PREFIX.sub("", house).strip()
    fraction = _HOUSE_FRACTION.match(text)
    if fraction:
        return f"{cardinal(int(fraction.group(1)))} дробь {cardinal(int(fraction.group(2)))}"
    match = _HOUSE_PART.match(text)
    if not match:
        return normalise_for_tts(text)
    words = cardinal(int(match.group("house")))
    if match.group("letter"):
        letter = match.group("letter").upper()
        words += f" {LETTER_NAMES.get(letter, letter.lower())}"
    if match.group("part"):
        kind = "строение" if match.group("kind").lower().startswith("с") else "корпус"
        words += f", {kind} {cardinal(int(match.group('part')))}"
    return words


def say_apartment(apartment: str) -> str:
    """ "12" or "кв. 12" → "квартира двенадцать"; "офис 5" stays an office."""
    text = _APARTMENT_PREFIX.sub("", apartment).strip()
    if text.isdigit():
        return f"квартира {cardinal(int(text))}"
    return normalise_for_tts(text if not text[:1].isdigit() else f"квартира {text}")


def say_address(address: AddressOut) -> str:
    """ "Москва, улица Тверская, дом семь, квартира двенадцать" (no comment: it may be long or
    personal, and the courier reads it anyway)."""
    parts = [
        normalise_for_tts(address.city),
        normalise_for_tts(address.street),
        f"дом {say_house(address.house)}",
    ]
    if address.apartment:
        parts.append(say_apartment(address.apartment))
    return ", ".join(part for part in parts if part)


def say_street_address(text: str) -> str:
    """A one-line address such as a pickup point's: "ул. Тверская, 7" → "улица Тверская, дом
    семь"."""
    match = _STREET_THEN_HOUSE.match(text.strip())
    if not match:
        return normalise_for_tts(text)
    street, house, rest = match.groups()
    spoken = f"{normalise_for_tts(street)}, дом {say_house(house)}"
    rest_words = normalise_for_tts(rest.lstrip(" ,"))
    return f"{spoken}, {rest_words}" if rest_words else spoken


def short_street(street: str) -> str:
    """ "улица Тверская" → "ул. Тверская", "Ленинский проспект" → "Ленинский пр-т"."""
    text = " ".join(street.split())
    for full, short in STREET_KINDS:
        text = re.sub(rf"(?<![\w-]){full}(?![\w-])", short, text, flags=re.IGNORECASE)
    return text


def short_address(address: AddressOut) -> str:
    """For SMS: "ул. Тверская 7" — street and house only (no city, flat or comment)."""
    house = _HOUSE_PREFIX.sub("", address.house).strip()
    return f"{short_street(address.street)} {house}".strip()
