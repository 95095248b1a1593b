"""Shared helpers of the client tests (fixtures are in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from store_api.client import StoreApiClient
from store_api.contract import CreateOrder, CustomerRef, OrderItemIn, ProductSummary

# Generous: the suite runs on loaded 2-core machines. Tests about time set their own.
TIMEOUT_S = 15.0
FAST_BACKOFF = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05}

MakeClient = Callable[..., StoreApiClient]


def fresh_phone() -> str:
    """A valid Moscow mobile number nobody in the demo data has."""
    return f"+7999{uuid.uuid4().int % 10_000_000:07d}"


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


async def in_stock(
    client: StoreApiClient, query: str = "макароны", at_least: int = 5
) -> ProductSummary:
    for item in await client.search_products(query, limit=20):
        if item.stock_qty >= at_least:
            return item
    raise AssertionError(f"no product for {query!r} with stock ≥ {at_least}")


async def draft_request(
    client: StoreApiClient, *, phone: str | None = None, quantity: int = 1
) -> CreateOrder:
    product = await in_stock(client, at_least=quantity)
    return CreateOrder(
        customer=CustomerRef(phone=phone or fresh_phone(), name="Тест Клиентов"),
        items=[OrderItemIn(product_id=product.id, quantity=quantity)],
        call_id=f"call-{uuid.uuid4()}",
    )
