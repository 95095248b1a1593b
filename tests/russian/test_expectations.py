"""russian/expectations.py: what the bot's own question waits for."""

from __future__ import annotations

import pytest

from core.vocabulary import Expectation
from russian.expectations import expectation_of_question

E = Expectation


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Назовите номер заказа, пожалуйста?", E.DIGITS),
        ("Какой номер телефона указать для SMS?", E.DIGITS),
        ("Сколько пачек положить?", E.DIGITS),
        ("Продиктуйте адрес доставки?", E.ADDRESS),
        ("На какую улицу доставить?", E.ADDRESS),
        ("Какой товар вы хотите заказать?", E.PRODUCT),
        ("Что ещё добавить?", E.PRODUCT),
        ("Всё верно?", E.YES_NO),
        ("Оформляем?", E.YES_NO),
        ("Соединить вас с оператором?", E.YES_NO),
        ("Чем могу помочь?", E.FREE),
        ("Доставить курьером или заберёте сами?", E.FREE),
        ("Заказ оформлен.", E.FREE),  # no question at all
        ("Номер заказа сто два ноль сорок пять.", E.FREE),  # digits named, not asked for
    ],
)
def test_expectation_of_the_last_question(sentence: str, expected: Expectation) -> None:
    assert expectation_of_question(sentence) is expected
