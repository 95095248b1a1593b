"""What a question the bot asked in its own words waits for (the LLM's replies): a yes or no,
digits, an address, a product, or anything. Read from the last sentence; when unsure, FREE —
the edge then waits its ordinary pause, never a short one."""

from __future__ import annotations

import re

from core.vocabulary import Expectation

# Checked in order (on lower case, ё as е): a question naming digits beats one that also ends
# in "верно?".
_RULES: tuple[tuple[re.Pattern[str], Expectation], ...] = (
    (
        re.compile(
            r"номер\w* (?:заказа|телефона)|какой номер"
            r"|сколько (?:штук|пач|бут|кг|упак|вам|нужно|положить)"
        ),
        Expectation.DIGITS,
    ),
    (
        re.compile(r"адрес|улиц|какой город|куда (?:доставить|привезти)|номер дома|квартир"),
        Expectation.ADDRESS,
    ),
    (
        re.compile(
            r"какой товар|что (?:вы )?(?:хотите|желаете) (?:заказать|купить)"
            r"|что (?:еще )?добавить|что закажете"
        ),
        Expectation.PRODUCT,
    ),
    (
        re.compile(
            r"(?:верно|правильно|так|оформляем|подтверждаете|устраивает|подходит"
            r"|соединить (?:вас )?с оператором)\?$"
        ),
        Expectation.YES_NO,
    ),
)


def expectation_of_question(sentence: str) -> Expectation:
    """The expectation of the bot's last sentence; FREE unless it is a question we know."""
    text = sentence.strip().lower().replace("ё", "е")
    if not text.endswith("?"):
        return Expectation.FREE
    for pattern, expectation in _RULES:
        if pattern.search(text):
            return expectation
    return Expectation.FREE
