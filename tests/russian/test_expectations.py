"""russian/expectations.py: what the bot's own question waits for.

The sentences are the kind a model writes under prompts/system_ru.md: it asks for an order
number, a quantity or an address as often in the imperative as with a question mark, and
it may add a statement after its question."""

from __future__ import annotations

import pytest

from core.vocabulary import Expectation
from russian.expectations import expectation_of_question, expectation_of_reply

E = Expectation


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # digits: an order number, a phone, a quantity
        ("Назовите номер заказа, пожалуйста?", E.DIGITS),
        ("Назовите, пожалуйста, номер заказа.", E.DIGITS),
        ("Подскажите номер вашего заказа.", E.DIGITS),
        ("Продиктуйте номер телефона для SMS.", E.DIGITS),
        ("Какой номер телефона указать для SMS?", E.DIGITS),
        ("Повторите, пожалуйста, номер заказа.", E.DIGITS),
        ("Сколько пачек положить?", E.DIGITS),
        ("Сколько килограммов вам нужно?", E.DIGITS),
        ("Сколько вам?", E.DIGITS),
        ("Какое количество вам нужно?", E.DIGITS),
        # an address
        ("Продиктуйте адрес доставки?", E.ADDRESS),
        ("Назовите адрес доставки: улицу, дом и квартиру.", E.ADDRESS),
        ("На какую улицу доставить?", E.ADDRESS),
        ("Куда вам доставить заказ?", E.ADDRESS),
        ("В каком городе вы находитесь?", E.ADDRESS),
        ("Уточните номер дома и квартиры.", E.ADDRESS),
        # a product
        ("Какой товар вы хотите заказать?", E.PRODUCT),
        ("Что бы вы хотели заказать?", E.PRODUCT),
        ("Что будете заказывать?", E.PRODUCT),
        ("Что ещё добавить?", E.PRODUCT),
        # yes or no
        ("Всё верно?", E.YES_NO),
        ("Оформляем?", E.YES_NO),
        ("Оформить заказ?", E.YES_NO),
        ("Вы подтверждаете заказ?", E.YES_NO),
        ("Я правильно поняла, две пачки гречки?", E.YES_NO),
        ("Соединить вас с оператором?", E.YES_NO),
        ("Хотите, я соединю вас с оператором?", E.YES_NO),
        # anything
        ("Чем могу помочь?", E.FREE),
        ("Чем ещё могу помочь?", E.FREE),
        ("Что-нибудь ещё?", E.FREE),
        ("Доставить курьером или заберёте сами?", E.FREE),
        ("Вам удобнее курьером или самовывоз, так?", E.FREE),  # a choice, not a yes
        ("На какую дату доставить?", E.FREE),
        ("Скажите, чем я могу помочь.", E.FREE),
        ("Заказ оформлен.", E.FREE),  # no question at all
        ("Номер заказа сто два ноль сорок пять.", E.FREE),  # digits named, not asked for
        ("Сколько стоит доставка, я уточню у оператора.", E.FREE),  # not a question
    ],
)
def test_expectation_of_the_last_question(sentence: str, expected: Expectation) -> None:
    assert expectation_of_question(sentence) is expected


@pytest.mark.parametrize(
    ("sentences", "expected"),
    [
        (["Не нашла такой заказ.", "Назовите номер ещё раз, пожалуйста."], E.DIGITS),
        (["Не нашла такой заказ.", "Назовите номер заказа ещё раз."], E.DIGITS),
        (["Какой номер заказа?", "Я проверю его статус."], E.DIGITS),  # a statement after
        (["Есть гречка ядрица.", "Сколько пачек?"], E.DIGITS),
        (["Ваш заказ в пути.", "Что-нибудь ещё?"], E.FREE),
        (["Сколько пачек?", "Чем ещё помочь?"], E.FREE),  # the last question decides
        (["Заказ оформлен.", "Спасибо за звонок!"], E.FREE),
        ([], E.FREE),
    ],
)
def test_expectation_of_a_reply_is_its_last_asking_sentence(
    sentences: list[str], expected: Expectation
) -> None:
    assert expectation_of_reply(sentences) is expected
