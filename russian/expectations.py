"""What a question the bot asked in its own words waits for (the LLM's replies): a yes or no,
digits, an address, a product, or anything. When unsure, FREE — the edge then waits its
ordinary pause, never a short one: a yes/no wait too short for the answer cuts the caller,
a dictation wait after an open question only delays the reply.

The asking sentence is the last one that asks: a question ("Какой номер заказа?") or a
request ("Назовите, пожалуйста, номер заказа."), the way a model asks for digits or an
address as often as not. A statement after it ("…? Я проверю.") does not withdraw it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.vocabulary import Expectation

# A request for information in the polite imperative: "назовите", "продиктуйте", …
_REQUEST = re.compile(
    r"\b(?:назовите|продиктуйте|скажите|подскажите|уточните|сообщите|укажите|повторите)\b"
)
# What is asked for, checked in order (on lower case, ё as е): a sentence naming digits
# beats one that also ends in "верно?".
_ASKED_FOR: tuple[tuple[re.Pattern[str], Expectation], ...] = (
    (
        re.compile(
            r"\bномер(?!\w* (?:дома|квартир|подъезд))|какой номер"
            r"|\bсколько\b(?! (?:стоит|стоят|будет стоить))|какое количество"
        ),
        Expectation.DIGITS,
    ),
    (
        re.compile(r"адрес|улиц|город|куда (?:\w+ )?(?:доставить|привезти)|номер дома|квартир"),
        Expectation.ADDRESS,
    ),
    (
        re.compile(
            r"какой товар|какие товары|что (?:бы )?(?:вы )?(?:хотите|хотели|желаете|будете)"
            r" (?:бы )?(?:заказать|купить|заказывать)|что (?:еще )?добавить|что закажете"
        ),
        Expectation.PRODUCT,
    ),
)
# A question answered with a yes or no. Not when it offers a choice ("… или …"): the answer
# then names one.
_YES_NO = re.compile(
    r"(?:\b(?:верно|правильно|так|оформляем|оформляю|подтверждаете|подтверждаем"
    r"|устраивает|подходит)\?$)"
    r"|^(?:вы )?(?:подтверждаете|подтверждаем|оформляем|оформляю|оформить заказ)\b"
    r"|\b(?:правильно|верно) ли\b|я (?:вас )?правильно (?:поняла|понял)"
    r"|соедин\w* (?:вас )?с оператором"
)


def _plain(sentence: str) -> str:
    return sentence.strip().lower().replace("ё", "е")


def _asks(text: str) -> bool:
    return text.endswith("?") or _REQUEST.search(text) is not None


def expectation_of_question(sentence: str) -> Expectation:
    """The expectation of one sentence of the bot's; FREE unless it asks something we know."""
    text = _plain(sentence)
    if not _asks(text):
        return Expectation.FREE
    for pattern, expectation in _ASKED_FOR:
        if pattern.search(text):
            return expectation
    if text.endswith("?") and " или " not in text and _YES_NO.search(text):
        return Expectation.YES_NO
    return Expectation.FREE


def expectation_of_reply(sentences: Sequence[str]) -> Expectation:
    """The expectation of a reply: of its last sentence that asks (FREE when none does)."""
    for sentence in reversed(sentences):
        if _asks(_plain(sentence)):
            return expectation_of_question(sentence)
    return Expectation.FREE
