"""What the caller hears about an order: the read-back before "да" (tools.md rule 2), a status
sentence (S1) and a short overview of several orders (S2).

Sentences are short and lists stop at three (dialog.md): a caller cannot scroll back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from russian.addresses import say_address, say_street_address
from russian.dates import say_date
from russian.money import say_money
from russian.numbers import agree, cardinal, count_phrase
from russian.order_numbers import say_order_number
from russian.products import say_product_name
from russian.text import normalise_for_tts
from store_api.contract import (
    CourierDelivery,
    Order,
    OrderItem,
    OrderStatus,
    OrderSummary,
    PickupDelivery,
)

QUESTION = "Всё верно? Скажите да, чтобы оформить заказ."
MAX_LISTED = 3  # items or orders named one by one; more become "и ещё N"

# The catalogue's sale units (`ProductSummary.unit`) → what a quantity of them is called.
UNIT_NOUNS: dict[str, str] = {"шт": "штука", "уп": "упаковка", "кг": "килограмм", "л": "литр"}
DEFAULT_UNIT_NOUN = "штука"

# Only while an order is on its way does its expected date mean something to the caller.
_DATED_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.ASSEMBLING, OrderStatus.SHIPPED})
_POSITIONS = ("Первый", "Второй", "Третий")


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _fragment(text: str) -> str:
    """Text from the Store API placed inside our sentence: its own final dot would double."""
    return text.strip().rstrip(" .,;:—-").strip()


def _item_sentence(item: OrderItem, units: Mapping[str, str]) -> str:
    noun = UNIT_NOUNS.get(units.get(item.product_id, ""), DEFAULT_UNIT_NOUN)
    name = _fragment(say_product_name(item.name)) or "Товар"
    return _sentence(f"{name} — {count_phrase(item.quantity, noun)}.")


def _item_sentences(items: Sequence[OrderItem], units: Mapping[str, str]) -> list[str]:
    if len(items) <= MAX_LISTED:
        return [_item_sentence(item, units) for item in items]
    named = MAX_LISTED - 1
    rest = len(items) - named
    return [
        *(_item_sentence(item, units) for item in items[:named]),
        f"И ещё {count_phrase(rest, 'товар')}.",
    ]


def _lower_first(text: str) -> str:
    # "Пункт выдачи на Тверской" inside a sentence; an acronym ("ПВЗ") keeps its capitals.
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _delivery_sentences(order: Order, today: dt.date) -> list[str]:
    delivery = order.delivery
    if isinstance(delivery, CourierDelivery):
        cost = (
            "бесплатно"
            if order.delivery_cost == 0
            else f"стоимость {say_money(order.delivery_cost)}"
        )
        sentences = [f"Доставка курьером {say_date(delivery.date, today)}, {cost}."]
        address = _fragment(say_address(delivery.address))
    elif isinstance(delivery, PickupDelivery):
        point = delivery.pickup_point
        name = _fragment(normalise_for_tts(point.name))
        sentences = [f"Самовывоз: {_lower_first(name)}." if name else "Самовывоз."]
        address = _fragment(say_street_address(point.address))
    else:
        return []
    if address:
        sentences.append(f"Адрес: {address}.")
    if isinstance(delivery, PickupDelivery) and order.estimated_date is not None:
        sentences.append(f"Забрать можно {say_date(order.estimated_date, today)}.")
    return sentences


def _total_sentence(order: Order) -> str:
    if order.delivery_cost > 0:
        return f"Итого с доставкой {say_money(order.total)}."
    return f"Итого {say_money(order.total)}."


def readback(order: Order, today: dt.date, *, units: Mapping[str, str] | None = None) -> list[str]:
    """The deterministic read-back of a draft, sentence by sentence, ending with the question.

    Items with quantities (at most three named; with more, the first two and "И ещё N
    товаров"), delivery (courier: date, cost or "бесплатно", address; pickup: point, address,
    date), the total, then `QUESTION`. `units` maps product ids to catalogue sale units
    ("шт", "уп", "кг", "л") so weighed goods are read as "два килограмма", not "две штуки".

    ["Проверим заказ.", "Гречка ядрица Золотое поле девятьсот грамм — две штуки.", …,
     "Доставка курьером завтра, бесплатно.", "Адрес: Москва, улица Тверская, дом семь,
     квартира двенадцать.", "Итого пять тысяч сто девяносто девять рублей.", QUESTION]
    """
    return [
        "Проверим заказ.",
        *_item_sentences(order.items, units or {}),
        *_delivery_sentences(order, today),
        _total_sentence(order),
        QUESTION,
    ]


def status_sentence(order: Order | OrderSummary, today: dt.date) -> str:
    """ "Заказ сто, двести сорок пять передан в доставку, ожидаемая дата — завтра."

    The status words are the Store API's own `status_text_ru`; the expected date is said only
    while the order is on its way and the date has not passed.
    """
    words = f"Заказ {say_order_number(order.number)} {order.status_text_ru}"
    expected = order.estimated_date
    if order.status in _DATED_STATUSES and expected is not None and expected >= today:
        words += f", ожидаемая дата — {say_date(expected, today, case='nomn')}"
    return words + "."


def orders_overview(summaries: Sequence[OrderSummary], today: dt.date) -> list[str]:
    """Several orders in a few sentences (S2): how many, then up to three by position, number
    and status, then which one to talk about. One order is just its `status_sentence`."""
    if not summaries:
        return ["Я не нашла заказов на ваш номер."]
    if len(summaries) == 1:
        return [status_sentence(summaries[0], today)]
    count = len(summaries)
    words = [cardinal(count)]
    if all(summary.status.is_active for summary in summaries):
        # An adjective between numeral and noun: "два активных заказа", "один активный заказ".
        words.append("активный" if count % 10 == 1 and count % 100 != 11 else "активных")
    words.append(agree("заказ", count))
    sentences = [f"У вас {' '.join(words)}."]
    if count > MAX_LISTED:
        sentences.append("Назову три из них.")
    for position, summary in zip(_POSITIONS, summaries[:MAX_LISTED], strict=False):
        number = say_order_number(summary.number)
        sentences.append(f"{position} — заказ {number}, {summary.status_text_ru}.")
    sentences.append("О каком заказе рассказать подробнее?")
    return sentences
