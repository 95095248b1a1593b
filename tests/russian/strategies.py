"""Hypothesis strategies for Store API orders, built from the contract models."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from store_api.contract import CourierDelivery, Order, OrderItem, PickupDelivery
from tests.russian.factories import TODAY, courier, item, order, pickup

CUSTOMER_NAMES = ("Анна Петрова", "Иван Сидоров", "Мария Кузнецова-Оболенская")
CUSTOMER_PHONES = ("+79161234567", "+79031112233")

_WORDISH = st.text(
    alphabet=st.sampled_from(
        list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯ0123456789")
        + list(" ,.-–/%()«»№")
    ),
    min_size=1,
    max_size=200,
).filter(lambda text: text.strip())

_STREETS = st.one_of(
    st.sampled_from(
        [
            "ул. Тверская",
            "улица 1-я Тверская-Ямская",
            "Ленинский проспект",
            "Большая Переяславская улица",
            "Проспект имени Академика Сахарова Андрея Дмитриевича",
            "ул. 8 Марта",
        ]
    ),
    _WORDISH,
)
_HOUSES = st.one_of(
    st.sampled_from(["7", "7к2", "12А", "15 стр. 3", "7/1", "д. 21"]),
    st.from_regex(r"[0-9]{1,4}[А-Я]?", fullmatch=True),
)


@st.composite
def items(draw: st.DrawFn) -> OrderItem:
    name = draw(
        st.one_of(
            st.sampled_from(
                [
                    "Гречка ядрица Золотое поле 900 г",
                    "Молоко Деревенское утро 3,2% 1 л",
                    "Подгузники Премиум Софт размер 5 (11–25 кг) 40 шт",
                    "Бананы",
                ]
            ),
            _WORDISH,
        )
    )
    quantity = draw(st.integers(1, 99))
    price = draw(st.integers(0, 5_000_000))
    return item(name, quantity, price)


@st.composite
def deliveries(draw: st.DrawFn) -> CourierDelivery | PickupDelivery | None:
    kind = draw(st.sampled_from(["courier", "pickup", "none"]))
    if kind == "courier":
        apartment = draw(st.one_of(st.none(), st.from_regex(r"[0-9]{1,4}", fullmatch=True)))
        days = draw(st.integers(0, 400))
        return courier(
            street=draw(_STREETS),
            house=draw(_HOUSES),
            apartment=apartment,
            date=TODAY + dt.timedelta(days=days),
        )
    if kind == "pickup":
        return pickup(name=draw(_WORDISH), address=draw(_WORDISH))
    return None


@st.composite
def orders(draw: st.DrawFn) -> Order:
    delivery = draw(deliveries())
    estimated = draw(st.one_of(st.none(), st.integers(0, 30)))
    return order(
        draw(st.lists(items(), min_size=1, max_size=20)),
        delivery,
        delivery_cost=draw(st.sampled_from([0, 4900, 29900, 34900])),
        number=draw(st.from_regex(r"[0-9]{5,10}", fullmatch=True)),
        estimated_date=None if estimated is None else TODAY + dt.timedelta(days=estimated),
        customer_name=draw(st.sampled_from(CUSTOMER_NAMES)),
        phone=draw(st.sampled_from(CUSTOMER_PHONES)),
    )
