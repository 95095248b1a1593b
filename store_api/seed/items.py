"""Building blocks for the catalogue data: a product before it has a SKU, and shop prices.

Families of similar products (brands × sizes) are expanded here so the data modules stay a
readable list of what the shop sells rather than hundreds of hand-typed rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# (label, price factor): a brand or a size and how it moves the price of the family.
Variant = tuple[str, float]

NO_VARIANT: tuple[Variant, ...] = (("", 1.0),)


@dataclass(frozen=True, slots=True)
class Item:
    """A product as printed on the shelf label, without SKU, id or stock yet."""

    name: str
    description: str
    price: int  # kopecks
    unit: str


def shop_price(rubles: float) -> int:
    """A shelf price in kopecks ending in ,90 — what Russian shops actually print.

    Cheap goods keep their rouble (89 → 89,90), dearer ones are rounded to ten (249 →
    249,90) or fifty roubles (2 390 → 2 399,90), so prices derived from factors still look
    hand-set.
    """
    whole = max(0, round(rubles))
    if whole < 100:
        return whole * 100 + 90
    step = 10 if whole < 2000 else 50
    return round(rubles / step) * step * 100 - 10


def _squash(text: str) -> str:
    # An empty brand or size leaves double spaces in the template.
    return " ".join(text.split())


def item(name: str, description: str, rubles: float, unit: str = "шт") -> Item:
    return Item(name=name, description=description, price=shop_price(rubles), unit=unit)


def family(
    template: str,
    description: str,
    rubles: float,
    *,
    brands: Sequence[Variant] = NO_VARIANT,
    sizes: Sequence[Variant] = NO_VARIANT,
    unit: str = "шт",
) -> list[Item]:
    """Every brand × size of one product; `{brand}` and `{size}` fill both texts."""
    return [
        Item(
            name=_squash(template.format(brand=brand, size=size)),
            description=_squash(description.format(brand=brand, size=size)),
            price=shop_price(rubles * brand_factor * size_factor),
            unit=unit,
        )
        for brand, brand_factor in brands
        for size, size_factor in sizes
    ]
