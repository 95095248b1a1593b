"""The demo catalogue: categories and products with SKUs, ids and stock.

SKUs are the category prefix and a running number in the order the data lists them
("GR-0001"…); ids are uuid5 of the SKU. Stock is pseudo-random but fixed per SKU, except for
the products named below, which are sold out or nearly so on purpose: they make the "нет в
наличии" paths (search results, `OUT_OF_STOCK` on create/confirm, S11) testable with the
untouched seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from store_api.seed import catalogue_food as food
from store_api.seed import catalogue_home as home
from store_api.seed.ids import product_id
from store_api.seed.items import Item


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str
    sku_prefix: str
    items: Callable[[], list[Item]]


@dataclass(frozen=True, slots=True)
class ProductSeed:
    id: uuid.UUID
    sku: str
    category_id: str
    name: str
    description: str
    price: int  # kopecks
    unit: str
    stock_qty: int


CATEGORIES: tuple[Category, ...] = (
    Category("groats", "Крупы и макароны", "GR", food.groats),
    Category("dairy", "Молочные продукты и яйца", "ML", food.dairy),
    Category("meat", "Мясо и птица", "MT", food.meat),
    Category("produce", "Овощи и фрукты", "VF", food.produce),
    Category("grocery", "Бакалея", "BK", food.grocery),
    Category("tea-coffee", "Чай и кофе", "TC", food.tea_coffee),
    Category("drinks", "Напитки", "DR", food.drinks),
    Category("bakery", "Хлеб и выпечка", "BR", food.bakery),
    Category("sweets", "Сладости", "SW", food.sweets),
    Category("household-chemicals", "Бытовая химия", "HC", home.household_chemicals),
    Category("home", "Товары для дома", "HM", home.home_goods),
    Category("baby", "Детские товары", "KD", home.baby_goods),
)

# Sold out: each has in-stock neighbours in the same group, so the agent can offer one.
OUT_OF_STOCK_NAMES: tuple[str, ...] = (
    "Гречка ядрица Алтайская нива 900 г",
    "Молоко Вологодский край 3,2% 1 л",
    "Кофе молотый Арабика Московская кофейня 250 г",
    "Сыр Сулугуни 45% 300 г",
    "Стиральный порошок Автомат Колор 6 кг",
    "Подгузники Премиум Софт размер 5 (11–25 кг) 40 шт",
)

# One to three left: enough to order one, not enough for "две упаковки".
LOW_STOCK_NAMES: dict[str, int] = {
    "Гречка ядрица Золотое поле 800 г": 2,
    "Молоко Деревенское утро 3,2% 1 л": 3,
    "Масло сливочное 82,5% 400 г": 1,
    "Кофе в зёрнах Эспрессо Италиано 1 кг": 2,
    "Подгузники Мамино солнышко размер 4 (7–14 кг) 46 шт": 1,
}


def _regular_stock(sku: str) -> int:
    # Seeded by the SKU so a re-seed, or another machine, gets the same shelf.
    rng = random.Random(f"stock:{sku}")
    roll = rng.random()
    if roll < 0.2:
        return rng.randint(5, 20)
    if roll < 0.9:
        return rng.randint(21, 300)
    return rng.randint(301, 500)


def _stock(name: str, sku: str) -> int:
    if name in OUT_OF_STOCK_NAMES:
        return 0
    return LOW_STOCK_NAMES.get(name) or _regular_stock(sku)


@cache
def products() -> tuple[ProductSeed, ...]:
    """The whole catalogue, in category order; built once per process."""
    result: list[ProductSeed] = []
    for category in CATEGORIES:
        for number, entry in enumerate(category.items(), start=1):
            sku = f"{category.sku_prefix}-{number:04d}"
            result.append(
                ProductSeed(
                    id=product_id(sku),
                    sku=sku,
                    category_id=category.id,
                    name=entry.name,
                    description=entry.description,
                    price=entry.price,
                    unit=entry.unit,
                    stock_qty=_stock(entry.name, sku),
                )
            )
    _check(result)
    return tuple(result)


def _check(catalogue: list[ProductSeed]) -> None:
    # A typo in a name list above would otherwise silently drop a test scenario.
    names = [p.name for p in catalogue]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate product names in the seed catalogue: {duplicates}")
    missing = (set(OUT_OF_STOCK_NAMES) | set(LOW_STOCK_NAMES)) - set(names)
    if missing:
        raise ValueError(f"stock overrides name unknown products: {sorted(missing)}")


def by_name(name: str) -> ProductSeed:
    for product in products():
        if product.name == name:
            return product
    raise KeyError(f"no product named {name!r} in the seed catalogue")


def out_of_stock_skus() -> tuple[str, ...]:
    return tuple(by_name(name).sku for name in OUT_OF_STOCK_NAMES)


def low_stock_skus() -> tuple[str, ...]:
    return tuple(by_name(name).sku for name in LOW_STOCK_NAMES)
