"""SEC6 at the Store API: each request limit accepted at its boundary, refused one past it.

The limits come from the contract (store_api/contract.py), so a change there moves the
boundaries tested here with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from store_api.contract import MAX_BODY_BYTES, MAX_ITEMS_PER_ORDER, MAX_QUANTITY
from tests.store_api.server.conftest import fresh_phone, in_stock_product, new_key
from tests.support.servers import StoreApiServer

# Words that each find a different part of the demo catalogue.
QUERIES = ("гречка", "рис", "молоко", "макароны", "чай", "кофе", "сыр", "масло", "мыло", "сок")


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return dict(body["error"])


async def distinct_products(api: httpx.AsyncClient, count: int) -> list[str]:
    found: list[str] = []
    for query in QUERIES:
        response = await api.get("/products/search", params={"q": query, "limit": 20})
        for item in response.json()["items"]:
            if item["stock_qty"] >= 1 and item["id"] not in found:
                found.append(item["id"])
        if len(found) >= count:
            return found[:count]
    raise AssertionError(f"the demo catalogue has fewer than {count} products in stock")


def order(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"customer": {"phone": fresh_phone()}, "items": items}


async def test_items_per_order_at_and_past_the_limit(api: httpx.AsyncClient) -> None:
    ids = await distinct_products(api, MAX_ITEMS_PER_ORDER + 1)
    lines = [{"product_id": product_id, "quantity": 1} for product_id in ids]

    at_limit = await api.post("/orders", headers=new_key(), json=order(lines[:-1]))
    assert at_limit.status_code == 201, at_limit.text
    assert len(at_limit.json()["items"]) == MAX_ITEMS_PER_ORDER

    past = await api.post("/orders", headers=new_key(), json=order(lines))
    assert past.status_code == 422, past.text
    error = error_of(past)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["field"] == "items"


async def test_quantity_at_and_past_the_limit(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    product = await in_stock_product(api, "чай")
    # Enough stock that 99 is refused only by the limit; other tests see the old stock again.
    await store_api.set_product(product["id"], stock_qty=MAX_QUANTITY * 3)
    try:
        at_limit = await api.post(
            "/orders",
            headers=new_key(),
            json=order([{"product_id": product["id"], "quantity": MAX_QUANTITY}]),
        )
    finally:
        await store_api.set_product(product["id"], stock_qty=product["stock_qty"])
    assert at_limit.status_code == 201, at_limit.text
    assert at_limit.json()["items"][0]["quantity"] == MAX_QUANTITY == 99

    past = await api.post(
        "/orders",
        headers=new_key(),
        json=order([{"product_id": product["id"], "quantity": MAX_QUANTITY + 1}]),
    )
    assert past.status_code == 422, past.text
    error = error_of(past)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["field"] == "items.0.quantity"


def padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON padded with trailing whitespace (still the same JSON) to `size` bytes."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def test_body_size_at_and_past_the_limit(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "макароны")
    body = order([{"product_id": product["id"], "quantity": 1}])
    json_headers = {**new_key(), "Content-Type": "application/json"}

    at_limit = await api.post("/orders", headers=json_headers, content=padded(body, MAX_BODY_BYTES))
    assert at_limit.status_code == 201, at_limit.text

    past = await api.post("/orders", headers=new_key(), content=padded(body, MAX_BODY_BYTES + 1))
    assert past.status_code == 413, past.text
    error = error_of(past)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert error["details"] == {"max_bytes": MAX_BODY_BYTES}
    assert MAX_BODY_BYTES == 64 * 1024  # the contract's number (store-api.md)


async def test_body_size_limit_holds_without_content_length(api: httpx.AsyncClient) -> None:
    """A chunked body announces no size: the server counts while reading."""
    product = await in_stock_product(api, "макароны")
    body = order([{"product_id": product["id"], "quantity": 1}])

    async def chunks(raw: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 8192):
            yield raw[start : start + 8192]

    headers = {**new_key(), "Content-Type": "application/json"}
    at_limit = await api.post(
        "/orders", headers=headers, content=chunks(padded(body, MAX_BODY_BYTES))
    )
    assert at_limit.request.headers.get("Transfer-Encoding") == "chunked"
    assert at_limit.status_code == 201, at_limit.text

    headers = {**new_key(), "Content-Type": "application/json"}
    past = await api.post(
        "/orders", headers=headers, content=chunks(padded(body, MAX_BODY_BYTES + 1))
    )
    assert past.status_code == 413, past.text
    assert error_of(past)["code"] == "PAYLOAD_TOO_LARGE"
