from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings

from russian.money import say_money
from russian.numbers import count_phrase
from russian.products import say_product_name
from russian.readback import QUESTION, orders_overview, readback, status_sentence
from store_api.contract import Order, OrderStatus
from tests.russian.factories import TODAY, courier, item, order, pickup, summary
from tests.russian.strategies import orders

GRECHKA = item("Гречка ядрица Золотое поле 900 г", 2, 12990)
MILK = item("Молоко Деревенское утро 3,2% 1 л", 1, 8990)
POTATO = item("Картофель мытый", 3, 5990, product_id="potato")


def test_courier_readback_sentence_by_sentence() -> None:
    draft = order([GRECHKA, MILK, POTATO], courier(), delivery_cost=29900)
    assert readback(draft, TODAY, units={"potato": "кг"}) == [
        "Проверим заказ.",
        "Гречка ядрица Золотое поле девятьсот грамм — две штуки.",
        "Молоко Деревенское утро три и две десятых процента, один литр — одна штука.",
        "Картофель мытый — три килограмма.",
        "Доставка курьером завтра, стоимость двести девяносто девять рублей.",
        "Адрес: Москва, улица Тверская, дом семь, квартира двенадцать.",
        "Итого с доставкой восемьсот двадцать восемь рублей сорок копеек.",
        "Всё верно? Скажите да, чтобы оформить заказ.",
    ]


def test_free_courier_delivery_is_mentioned() -> None:
    draft = order([item("Кофе в зёрнах 1 кг", 2, 259900)], courier(date=TODAY + dt.timedelta(3)))
    sentences = readback(draft, TODAY)
    assert "Доставка курьером в понедельник, тридцатого ноября, бесплатно." in sentences
    assert "Итого пять тысяч сто девяносто восемь рублей." in sentences


def test_pickup_readback_names_the_point_its_address_and_the_date() -> None:
    draft = order([MILK], pickup(), estimated_date=TODAY + dt.timedelta(days=1))
    assert readback(draft, TODAY)[2:] == [
        "Самовывоз: пункт выдачи на Тверской.",
        "Адрес: улица Тверская, дом семь.",
        "Забрать можно завтра.",
        "Итого восемьдесят девять рублей девяносто копеек.",
        QUESTION,
    ]


def test_paid_pickup_says_the_total_includes_delivery() -> None:
    draft = order([MILK], pickup(name="Постамат на Арбате"), delivery_cost=4900)
    assert "Итого с доставкой сто тридцать восемь рублей девяносто копеек." in readback(
        draft, TODAY
    )


@pytest.mark.parametrize("count", [1, 2, 3])
def test_up_to_three_items_are_all_named(count: int) -> None:
    items = [item(f"Товар номер {n}", n) for n in range(1, count + 1)]
    sentences = readback(order(items, courier()), TODAY)
    for it in items:
        assert any(s.startswith(say_product_name(it.name)) for s in sentences)
    assert not any(s.startswith("И ещё") for s in sentences)


@pytest.mark.parametrize(
    ("count", "rest"),
    [(4, "И ещё два товара."), (5, "И ещё три товара."), (7, "И ещё пять товаров."),
     (20, "И ещё восемнадцать товаров."), (23, "И ещё двадцать один товар.")],
)  # fmt: skip
def test_more_than_three_items_name_two_and_count_the_rest(count: int, rest: str) -> None:
    items = [item(f"Товар {chr(ord('А') + n)}", 1) for n in range(count)]
    sentences = readback(order(items, courier()), TODAY)
    assert sentences[1:4] == ["Товар А — одна штука.", "Товар Б — одна штука.", rest]


def test_readback_without_delivery_still_gives_total_and_question() -> None:
    sentences = readback(order([MILK], None), TODAY)
    assert sentences[-2:] == ["Итого восемьдесят девять рублей девяносто копеек.", QUESTION]


@settings(max_examples=80, deadline=None)
@given(orders())
def test_every_readback_is_speakable_and_complete(draft: Order) -> None:
    sentences = readback(draft, TODAY)
    assert sentences == readback(draft, TODAY)  # deterministic
    assert sentences[0] == "Проверим заказ."
    assert sentences[-1] == QUESTION
    assert sentences[-2].startswith("Итого") and say_money(draft.total) in sentences[-2]
    named = draft.items if len(draft.items) <= 3 else draft.items[:2]
    for position, it in enumerate(named, start=1):
        assert sentences[position].endswith(f" — {count_phrase(it.quantity, 'штука')}.")
    if len(draft.items) > 3:
        assert sentences[3] == f"И ещё {count_phrase(len(draft.items) - 2, 'товар')}."
    for sentence in sentences:
        assert not re.search(r"\d", sentence), sentence
        assert re.search(r"[^.]\.$|\?$", sentence), sentence


ORDER = "Заказ сто, двести сорок пять "


@pytest.mark.parametrize(
    ("status", "days", "expected"),
    [
        (OrderStatus.SHIPPED, 1, ORDER + "передан в доставку, ожидаемая дата — завтра."),
        (OrderStatus.ASSEMBLING, 3, ORDER +
         "собирается на складе, ожидаемая дата — понедельник, тридцатое ноября."),
        (OrderStatus.CONFIRMED, 10, ORDER +
         "принят и ждёт сборки, ожидаемая дата — седьмое декабря."),
        (OrderStatus.SHIPPED, 0, ORDER + "передан в доставку, ожидаемая дата — сегодня."),
        (OrderStatus.SHIPPED, -1, ORDER + "передан в доставку."),
        (OrderStatus.SHIPPED, None, ORDER + "передан в доставку."),
        (OrderStatus.READY_FOR_PICKUP, 0, ORDER + "ждёт вас в пункте выдачи."),
        (OrderStatus.DELIVERED, -2, ORDER + "доставлен."),
        (OrderStatus.CANCELLED, 1, ORDER + "отменён."),
    ],
)  # fmt: skip
def test_status_sentence(status: OrderStatus, days: int | None, expected: str) -> None:
    estimated = None if days is None else TODAY + dt.timedelta(days=days)
    assert status_sentence(summary(status=status, estimated_date=estimated), TODAY) == expected


def test_status_sentence_of_a_full_order() -> None:
    confirmed = order([MILK], courier(), number="102045", status=OrderStatus.CONFIRMED)
    assert status_sentence(confirmed, TODAY) == (
        "Заказ сто два, ноль сорок пять принят и ждёт сборки, ожидаемая дата — завтра."
    )


def test_overview_of_three_active_orders() -> None:
    summaries = [
        summary("100245", OrderStatus.SHIPPED),
        summary("102045", OrderStatus.ASSEMBLING),
        summary("100300", OrderStatus.READY_FOR_PICKUP),
    ]
    assert orders_overview(summaries, TODAY) == [
        "У вас три активных заказа.",
        "Первый — заказ сто, двести сорок пять, передан в доставку.",
        "Второй — заказ сто два, ноль сорок пять, собирается на складе.",
        "Третий — заказ сто, триста, ждёт вас в пункте выдачи.",
        "О каком заказе рассказать подробнее?",
    ]


def test_overview_of_many_orders_names_three() -> None:
    summaries = [summary(str(100240 + n)) for n in range(5)]
    sentences = orders_overview(summaries, TODAY)
    assert sentences[:2] == ["У вас пять активных заказов.", "Назову три из них."]
    assert [s.split(" — ")[0] for s in sentences[2:5]] == ["Первый", "Второй", "Третий"]
    assert sentences[-1] == "О каком заказе рассказать подробнее?"
    assert len(sentences) == 6


def test_overview_of_one_order_is_its_status() -> None:
    assert orders_overview([summary()], TODAY) == [status_sentence(summary(), TODAY)]


def test_overview_with_finished_orders_does_not_call_them_active() -> None:
    summaries = [summary("1", OrderStatus.DELIVERED), summary("2", OrderStatus.SHIPPED)]
    assert orders_overview(summaries, TODAY)[0] == "У вас два заказа."


def test_overview_of_nothing() -> None:
    assert orders_overview([], TODAY) == ["Я не нашла заказов на ваш номер."]


def test_twenty_one_active_orders_agree() -> None:
    summaries = [summary(str(100200 + n)) for n in range(21)]
    assert orders_overview(summaries, TODAY)[0] == "У вас двадцать один активный заказ."


def test_readback_leaves_input_unchanged() -> None:
    draft = order([GRECHKA], courier())
    before = draft.model_dump()
    readback(draft, TODAY)
    assert draft.model_dump() == before
