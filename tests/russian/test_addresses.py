from __future__ import annotations

import pytest

from russian.addresses import (
    say_address,
    say_apartment,
    say_house,
    say_street_address,
    short_address,
    short_street,
)
from store_api.contract import AddressOut


@pytest.mark.parametrize(
    ("house", "spoken"),
    [
        ("7", "семь"),
        ("д. 7", "семь"),
        ("дом 21", "двадцать один"),
        ("12А", "двенадцать а"),
        ("12 б", "двенадцать бэ"),
        ("7к2", "семь, корпус два"),
        ("7 корп. 2", "семь, корпус два"),
        ("15 стр. 3", "пятнадцать, строение три"),
        ("15с3", "пятнадцать, строение три"),
        ("7/1", "семь дробь один"),
        ("вл. 5", "вл. пять"),
    ],
)
def test_say_house(house: str, spoken: str) -> None:
    assert say_house(house) == spoken


@pytest.mark.parametrize(
    ("apartment", "spoken"),
    [
        ("12", "квартира двенадцать"),
        ("кв. 115", "квартира сто пятнадцать"),
        ("офис 5", "офис пять"),
    ],
)
def test_say_apartment(apartment: str, spoken: str) -> None:
    assert say_apartment(apartment) == spoken


def test_say_address() -> None:
    address = AddressOut(city="Москва", street="ул. Тверская", house="7к2", apartment="12")
    assert (
        say_address(address) == "Москва, улица Тверская, дом семь, корпус два, квартира двенадцать"
    )
    no_flat = AddressOut(city="Казань", street="Баумана", house="21")
    assert say_address(no_flat) == "Казань, Баумана, дом двадцать один"


@pytest.mark.parametrize(
    ("address", "spoken"),
    [
        ("ул. Тверская, 7", "улица Тверская, дом семь"),
        ("Невский проспект, 28", "Невский проспект, дом двадцать восемь"),
        ("ул. 1-я Тверская-Ямская, 12", "улица первая Тверская-Ямская, дом двенадцать"),
        ("ул. Арбат, 24, в магазине «Продукты»",
         "улица Арбат, дом двадцать четыре, в магазине Продукты"),
        ("Торговый центр Европейский", "Торговый центр Европейский"),
    ],
)  # fmt: skip
def test_say_street_address(address: str, spoken: str) -> None:
    assert say_street_address(address) == spoken


@pytest.mark.parametrize(
    ("street", "short"),
    [
        ("улица Тверская", "ул. Тверская"),
        ("Большая Переяславская улица", "Большая Переяславская ул."),
        ("Ленинский проспект", "Ленинский пр-т"),
        ("Гоголевский бульвар", "Гоголевский б-р"),
        ("ул. Тверская", "ул. Тверская"),
        ("Улица  Тверская", "ул. Тверская"),
    ],
)
def test_short_street(street: str, short: str) -> None:
    assert short_street(street) == short


def test_short_address_has_no_city_flat_or_comment() -> None:
    address = AddressOut(
        city="Москва", street="улица Тверская", house="д. 7", apartment="12", comment="код 1234"
    )
    assert short_address(address) == "ул. Тверская 7"
