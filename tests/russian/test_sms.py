from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from russian.money import short_money
from russian.sms import SMS_LIMIT, confirmation_sms
from store_api.contract import Order
from tests.russian.factories import TODAY, courier, item, order, pickup
from tests.russian.strategies import CUSTOMER_NAMES, orders

NOV_30 = dt.date(2026, 11, 30)


def test_the_dialog_md_example() -> None:
    confirmed = order(
        [item("Гречка", 2, 100000), item("Молоко", 1, 59900)],
        courier(street="ул. Тверская", house="7", apartment="12", date=NOV_30),
    )
    assert confirmation_sms(confirmed) == (
        "Заказ 100245 принят: 3 товара, 2599 ₽. Курьер 30.11, ул. Тверская 7. Спасибо!"
    )


def test_pickup_names_the_point_and_its_address() -> None:
    confirmed = order([item("Молоко", 1, 8990)], pickup(), estimated_date=NOV_30)
    assert confirmation_sms(confirmed) == (
        "Заказ 100245 принят: 1 товар, 89,90 ₽. "
        "Самовывоз 30.11, ПВЗ на Тверской (ул. Тверская, 7). Спасибо!"
    )


def test_pickup_point_without_a_name_is_given_by_its_address() -> None:
    confirmed = order([item("Молоко", 1, 100)], pickup(name=" ", address="ул. Тверская, 7"))
    assert confirmation_sms(confirmed).endswith("Самовывоз, ул. Тверская, 7. Спасибо!")


def test_pickup_without_a_date() -> None:
    confirmed = order([item("Молоко", 5, 100)], pickup(name="Постамат на Арбате", address=""))
    assert confirmation_sms(confirmed) == (
        "Заказ 100245 принят: 5 товаров, 5 ₽. Самовывоз, Постамат на Арбате. Спасибо!"
    )


@pytest.mark.parametrize(
    ("quantities", "count"),
    [([1], "1 товар"), ([2, 1], "3 товара"), ([5], "5 товаров"), ([11], "11 товаров"),
     ([20, 1], "21 товар"), ([99, 99, 99, 99, 99], "495 товаров")],
)  # fmt: skip
def test_items_are_counted_by_quantity(quantities: list[int], count: str) -> None:
    confirmed = order([item(f"Товар {n}", q) for n, q in enumerate(quantities)], courier())
    assert f"принят: {count}, " in confirmation_sms(confirmed)


def test_a_long_address_is_shortened_not_overflowing() -> None:
    street = "проспект имени Академика Сахарова Андрея Дмитриевича, владение при ТЦ Европейский"
    confirmed = order(
        [item("Гречка", 99, 9_999_999_99)],
        courier(street=street, house="127к3 стр. 15", date=NOV_30),
        number="1002450789",
    )
    sms = confirmation_sms(confirmed)
    assert len(sms) <= SMS_LIMIT
    assert sms.startswith("Заказ 1002450789 принят: 99 товаров, 989999999,01 ₽. Курьер 30.11, ")
    assert "пр-т имени Академика" in sms


def test_the_place_is_cut_at_a_word_when_nothing_else_helps() -> None:
    street = "улица " + "Очень-Длинное-Название " * 8
    sms = confirmation_sms(order([item("Гречка", 1)], courier(street=street, date=NOV_30)))
    assert len(sms) <= SMS_LIMIT
    assert sms.endswith("…")
    assert "Спасибо" not in sms


def test_an_absurd_order_number_is_still_within_the_limit() -> None:
    sms = confirmation_sms(order([item("Гречка", 1)], courier(), number="1" * 200))
    assert len(sms) == SMS_LIMIT


def test_no_phone_numbers_from_the_address() -> None:
    confirmed = order([item("Гречка", 1)], courier(street="Тверская, звонить +7 916 000-11-22"))
    sms = confirmation_sms(confirmed)
    assert "916" not in sms
    assert "000-11-22" not in sms


@settings(max_examples=150, deadline=None)
@given(orders())
def test_every_sms_fits_two_segments_and_keeps_the_essentials(confirmed: Order) -> None:
    sms = confirmation_sms(confirmed)
    assert len(sms) <= SMS_LIMIT
    assert sms == confirmation_sms(confirmed)
    assert sms.startswith(f"Заказ {confirmed.number} принят: ")
    assert f", {short_money(confirmed.total)}." in sms
    assert "\n" not in sms
    for name in CUSTOMER_NAMES:
        assert name not in sms
    assert confirmed.customer.phone not in sms
    assert confirmed.customer.phone[2:] not in sms
    if confirmed.delivery is not None:
        assert ("Курьер" in sms) != ("Самовывоз" in sms)


def test_tomorrow_is_a_date_in_the_sms() -> None:
    sms = confirmation_sms(order([item("Гречка", 1)], courier(date=TODAY + dt.timedelta(1))))
    assert "Курьер 28.11, " in sms
