"""What a caller asks for in a few words, for the guided dialog's open questions.

Lexicons of pymorphy3 lemmas (a word written once matches all its forms): "где мой заказ" is
a status question, "хочу заказать гречку" a new order, "курьером" / "заберу сам" a delivery
kind, "это всё" the end of the list of items, "как можно скорее" no particular date.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Literal

from russian.understanding._text import Token, tokens
from russian.understanding.numbers import parse_digits


class Request(enum.StrEnum):
    STATUS = "status"
    ORDER = "order"
    DONE = "done"  # "это всё", "больше ничего", "до свидания"
    UNKNOWN = "unknown"


ORDER_VERBS = frozenset(
    {"заказать", "заказывать", "купить", "покупать", "оформить", "оформлять", "взять",
     "добавить", "новый", "положить", "приобрести", "сделать", "делать"}
)  # fmt: skip
STATUS_WORDS = frozenset(
    {"где", "статус", "когда", "привезти", "прийти", "приехать", "состояние", "отследить",
     "узнать", "мой", "какой", "посылка", "заказ"}
)  # fmt: skip
DONE_WORDS = frozenset(
    {"все", "всё", "хватит", "достаточно", "ничего", "свидание", "пока", "конец", "закончить"}
)
COURIER_WORDS = frozenset(
    {"курьер", "курьерский", "доставка", "доставить", "привезти", "домой", "адрес", "дом"}
)
PICKUP_WORDS = frozenset(
    {"самовывоз", "забрать", "заберу", "сам", "сама", "пункт", "выдача", "заехать", "зайти"}
)
SOONEST_WORDS = frozenset(
    {"скорее", "быстрее", "ближайший", "любой", "неважно", "разница", "равно", "побыстрее",
     "пораньше", "скорейший"}
)  # fmt: skip
QUANTITY_WORDS = frozenset({"количество", "сколько", "штука", "меньше", "больше"})
ADDRESS_WORDS = frozenset(
    {"адрес", "улица", "дом", "квартира", "подъезд", "этаж", "корпус", "строение", "город"}
)
DATE_WORDS = frozenset({"дата", "день", "число", "время", "когда", "срок"})
ITEM_WORDS = frozenset({"товар", "состав", "продукт", "позиция", "другой", "вместо"})
DELIVERY_WORDS = COURIER_WORDS | PICKUP_WORDS | ADDRESS_WORDS | DATE_WORDS


def _has(words: Sequence[Token], lexicon: frozenset[str]) -> bool:
    return any(word.is_(*lexicon) for word in words)


def classify_request(text: str) -> Request:
    """The task behind an answer to "Чем могу помочь?"."""
    words = tokens(text)
    if not words:
        return Request.UNKNOWN
    if _has(words, ORDER_VERBS):
        return Request.ORDER
    digits = parse_digits(text) or ""
    if len(digits) >= 3 or _has(words, STATUS_WORDS):
        return Request.STATUS
    if _has(words, DONE_WORDS):
        return Request.DONE
    return Request.UNKNOWN


def says_done(text: str) -> bool:
    """ "это всё", "больше ничего", "хватит": the list of items is complete."""
    return _has(tokens(text), DONE_WORDS)


def delivery_kind(text: str) -> Literal["courier", "pickup"] | None:
    words = tokens(text)
    pickup, courier = _has(words, PICKUP_WORDS), _has(words, COURIER_WORDS)
    if pickup and not courier:
        return "pickup"
    if courier and not pickup:
        return "courier"
    if pickup and courier:
        # "заберу сам из пункта выдачи" vs "доставка на дом": the kind word decides.
        if any(w.is_("самовывоз", "пункт", "выдача", "забрать", "заберу") for w in words):
            return "pickup"
        return "courier"
    return None


MORE_WORDS = frozenset({"остальной", "другой", "еще", "дальше", "следующий", "прочий"})


def says_more(text: str) -> bool:
    """ "а остальные?", "дальше": the caller wants the rest of a list read out."""
    return _has(tokens(text), MORE_WORDS)


def mentions_address(text: str) -> bool:
    return _has(tokens(text), ADDRESS_WORDS)


def mentions_date(text: str) -> bool:
    return _has(tokens(text), DATE_WORDS)


def wants_soonest(text: str) -> bool:
    """ "как можно скорее", "в ближайший день", "неважно": no particular delivery date."""
    return _has(tokens(text), SOONEST_WORDS)


def change_target(text: str) -> Literal["quantity", "items", "delivery"] | None:
    """What a caller wants to change after a read-back."""
    words = tokens(text)
    if _has(words, QUANTITY_WORDS):
        return "quantity"
    if _has(words, DELIVERY_WORDS):
        return "delivery"
    if _has(words, ITEM_WORDS):
        return "items"
    return None
