"""Russian understanding of narrow caller answers, for the guided (no-LLM) dialog.

Pure functions of their arguments: no clock (`today` is passed in), no randomness, no I/O
except loading pymorphy3's dictionaries, natasha's address grammar and dateparser's Russian
data once per process. `warm_up()` does all of that up front (worker start), as
`russian.warm_up()` does for speech; Temporal's sandbox forbids the file reads.

- `classify_reply` — yes / no / cancel / operator / repeat / unknown (intents.py)
- `parse_quantity`, `parse_digits` — "две пачки" → 2; "сто два ноль сорок пять" → "102045"
- `parse_ordinal` — "второй", "последнюю" → index among the candidates read out
- `parse_delivery_date` — "тридцатого", "в субботу" → a date on or after `today`
- `parse_address` — "Москва Тверская семь квартира двенадцать" → `ParsedAddress`;
  `parse_city` — "в Москве" → "Москва"
- `match_products` — "гречки ядрица" → indexes of matching product names with scores
"""

from __future__ import annotations

import datetime as dt

from russian.understanding.addresses import ParsedAddress, parse_address, parse_city
from russian.understanding.dates import parse_delivery_date
from russian.understanding.intents import Intent, classify_reply
from russian.understanding.numbers import parse_digits, parse_quantity
from russian.understanding.ordinals import parse_ordinal
from russian.understanding.products import match_products

__all__ = [
    "Intent",
    "ParsedAddress",
    "classify_reply",
    "match_products",
    "parse_address",
    "parse_city",
    "parse_delivery_date",
    "parse_digits",
    "parse_ordinal",
    "parse_quantity",
    "warm_up",
]


def warm_up() -> None:
    """Load every model and dictionary now (~1 s) instead of inside the first caller turn."""
    classify_reply("да, верно")
    parse_quantity("две штуки")
    parse_ordinal("второй")
    parse_delivery_date("тридцатого ноября", dt.date(2000, 11, 1))
    parse_address("город Москва, улица Тверская, дом семь, квартира двенадцать")
    match_products("гречки", ["Гречка ядрица 900 г"])
