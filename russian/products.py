"""Product names as the shop writes them ("Молоко 3,2% 1 л") → as a person says them."""

from __future__ import annotations

import re

from russian.text import normalise_for_tts
from russian.units import UNIT_TOKEN

# Two numbers in a row blur together when spoken ("эс один десять штук"): a pause between
# them, as in "Яйца С1, 10 шт" and "Молоко 3,2%, 1 л", keeps them apart.
_NUMBER_AFTER_NUMBER = re.compile(rf"(\d\S*(?:\s{UNIT_TOKEN})?)\s+(?=\d)", re.IGNORECASE)


def say_product_name(name: str) -> str:
    """ "Гречка ядрица 900 г" → "Гречка ядрица девятьсот грамм"; "Молоко 3,2% 1 л" → "Молоко три
    и две десятых процента, один литр"; "Подгузники размер 4 (7–14 кг) 46 шт" → "Подгузники
    размер четыре, от семи до четырнадцати килограмм, сорок шесть штук"."""
    return normalise_for_tts(_NUMBER_AFTER_NUMBER.sub(r"\1, ", name))
