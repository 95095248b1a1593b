"""Deterministic ids for the demo data, so a re-seed (or another machine) gives the same ids.

Tests, the docs and demo scripts can then refer to a product or an order by an id that is
known before the database exists.
"""

from __future__ import annotations

import uuid

_ROOT = uuid.uuid5(uuid.NAMESPACE_DNS, "seed.store-api.voiceorder")
_PRODUCTS = uuid.uuid5(_ROOT, "products")
_CUSTOMERS = uuid.uuid5(_ROOT, "customers")
_ORDERS = uuid.uuid5(_ROOT, "orders")


def product_id(sku: str) -> uuid.UUID:
    return uuid.uuid5(_PRODUCTS, sku)


def customer_id(phone: str) -> uuid.UUID:
    return uuid.uuid5(_CUSTOMERS, phone)


def order_id(number: str) -> uuid.UUID:
    return uuid.uuid5(_ORDERS, number)
