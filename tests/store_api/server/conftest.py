"""Clients for the real Store API process started by the session fixture."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.servers import StoreApiServer


@pytest.fixture
async def api(store_api: StoreApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=store_api.base_url, headers=store_api.auth, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def anonymous(store_api: StoreApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=store_api.base_url, timeout=30) as client:
        yield client


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def in_stock_product(api: httpx.AsyncClient, query: str, at_least: int = 5) -> dict[str, Any]:
    response = await api.get("/products/search", params={"q": query, "limit": 20})
    response.raise_for_status()
    for item in response.json()["items"]:
        if item["stock_qty"] >= at_least:
            return dict(item)
    raise AssertionError(f"no product for {query!r} with stock ≥ {at_least}")


async def new_draft(
    api: httpx.AsyncClient, quantity: int = 1, query: str = "макароны", phone: str | None = None
) -> dict[str, Any]:
    product = await in_stock_product(api, query, at_least=quantity)
    response = await api.post(
        "/orders",
        headers=new_key(),
        json={
            "customer": {"phone": phone or fresh_phone()},
            "items": [{"product_id": product["id"], "quantity": quantity}],
            "call_id": f"call-{uuid.uuid4()}",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def fresh_phone() -> str:
    """A valid Moscow mobile number nobody in the demo data has."""
    return f"+7999{uuid.uuid4().int % 10_000_000:07d}"


COURIER_MOSCOW: dict[str, Any] = {
    "type": "courier",
    "address": {"city": "Москва", "street": "Тверская", "house": "7", "apartment": "12"},
}
