"""What a caller asks for in a few words: the guided dialog's open questions."""

from __future__ import annotations

import pytest

from russian.understanding import parse_city
from russian.understanding.products import product_query
from russian.understanding.requests import (
    Request,
    change_target,
    classify_request,
    delivery_kind,
    says_done,
    wants_soonest,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Где мой заказ?", Request.STATUS),
        ("Что с моим заказом?", Request.STATUS),
        ("Когда привезут?", Request.STATUS),
        ("Хочу узнать статус заказа", Request.STATUS),
        ("Какие у меня заказы?", Request.STATUS),
        ("Заказ сто два ноль сорок пять", Request.STATUS),
        ("Алло, хочу сделать заказ", Request.ORDER),
        ("Хочу оформить новый заказ", Request.ORDER),
        ("Можно заказать гречку?", Request.ORDER),
        ("Закажу хлеб", Request.ORDER),
        ("Купить молока", Request.ORDER),
        ("Нет, спасибо, до свидания", Request.DONE),
        ("Спасибо, это всё", Request.DONE),
        ("Больше ничего", Request.DONE),
        ("Гречка", Request.UNKNOWN),
        ("", Request.UNKNOWN),
    ],
)
def test_classify_request(text: str, expected: Request) -> None:
    assert classify_request(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Курьером", "courier"),
        ("Доставка на дом", "courier"),
        ("Привезите, пожалуйста", "courier"),
        ("Самовывоз", "pickup"),
        ("Заберу сам", "pickup"),
        ("Сама заберу из пункта выдачи", "pickup"),
        ("В пункте выдачи на Тверской", "pickup"),
        # Words of both kinds: a pickup word ("пункт", "забрать") decides; "сама" does not.
        ("Заберу из пункта выдачи по адресу Тверская", "pickup"),
        ("Доставка на дом, сама встречу курьера", "courier"),
        ("Не знаю", None),
    ],
)
def test_delivery_kind(text: str, expected: str | None) -> None:
    assert delivery_kind(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Хочу заказать две пачки гречки", "гречка"),
        ("Мне, пожалуйста, молоко три и два процента", "молоко"),
        ("Ещё кефир", "кефир"),
        ("Гречку ядрицу", "гречка ядрица"),
        ("Хочу сделать заказ", None),
        ("Две пачки", None),
    ],
)
def test_product_query_keeps_only_the_product(text: str, expected: str | None) -> None:
    query = product_query(text)
    if expected is None:
        assert query is None
    else:
        assert query is not None and query.startswith(expected)


def test_small_answers() -> None:
    assert says_done("это всё") and says_done("хватит") and not says_done("ещё сыр")
    assert wants_soonest("как можно скорее") and wants_soonest("в ближайший день")
    assert not wants_soonest("в субботу")
    assert change_target("количество") == "quantity"
    assert change_target("давайте другой адрес доставки") == "delivery"
    assert change_target("поменяйте товар") == "items"
    assert change_target("не знаю") is None


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("в Москве", "Москва"),
        ("Санкт-Петербург", "Санкт-Петербург"),
        ("питер", "Питер"),
        ("Нижний Новгород", "Нижний Новгород"),
        ("город Королёв", "Королев"),
        ("в Химках", "Химки"),
        ("не знаю", None),
        ("ну это", None),
        ("Москва, Тверская семь", None),
    ],
)
def test_parse_city(text: str, city: str | None) -> None:
    assert parse_city(text) == city
