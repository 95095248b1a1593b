"""Idempotency-Key: replay, reuse, concurrency and the one-transaction rule."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import httpx

from tests.store_api.server.conftest import COURIER_MOSCOW, fresh_phone, in_stock_product, new_draft
from tests.support.servers import StoreApiServer


async def test_replay_returns_the_identical_body(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "гречка")
    body = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": product["id"], "quantity": 1}],
    }
    key = {"Idempotency-Key": f"replay-{uuid.uuid4()}"}
    first = await api.post("/orders", headers=key, json=body)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    # The same request with other spacing and key order is the same request.
    reordered = json.dumps(
        {"items": [{"quantity": 1, "product_id": product["id"]}], "customer": body["customer"]},
        indent=2,
    )
    second = await api.post(
        "/orders", headers={**key, "Content-Type": "application/json"}, content=reordered
    )
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content


async def test_key_reused_with_another_body_is_rejected(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "гречка")
    key = {"Idempotency-Key": f"reuse-{uuid.uuid4()}"}
    body = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": product["id"], "quantity": 1}],
    }
    assert (await api.post("/orders", headers=key, json=body)).status_code == 201
    other = {**body, "items": [{"product_id": product["id"], "quantity": 2}]}
    response = await api.post("/orders", headers=key, json=other)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_errors_are_replayed_too(api: httpx.AsyncClient) -> None:
    draft = await new_draft(api)
    key = {"Idempotency-Key": f"err-{uuid.uuid4()}"}
    first = await api.post(f"/orders/{draft['id']}/confirm", headers=key, json={})
    assert first.status_code == 409 and first.json()["error"]["code"] == "DELIVERY_REQUIRED"
    await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    again = await api.post(f"/orders/{draft['id']}/confirm", headers=key, json={})
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    fresh = await api.post(
        f"/orders/{draft['id']}/confirm",
        headers={"Idempotency-Key": f"new-{uuid.uuid4()}"},
        json={},
    )
    assert fresh.status_code == 200


async def test_twenty_concurrent_identical_creates_make_one_order(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    product = await in_stock_product(api, "гречка")
    call_id = f"concurrent-{uuid.uuid4()}"
    body = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": product["id"], "quantity": 1}],
        "call_id": call_id,
    }
    key = {"Idempotency-Key": f"{call_id}:create"}
    responses = await asyncio.gather(
        *(api.post("/orders", headers=key, json=body) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert sum(1 for r in created if "Idempotent-Replayed" not in r.headers) == 1
    conn = await asyncpg.connect(store_api.database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM store.orders WHERE call_id = $1", call_id)
    finally:
        await conn.close()
    assert count == 1
    # Once the first finished, every retry is a replay of the same order.
    late = await api.post("/orders", headers=key, json=body)
    assert late.status_code == 201 and late.json()["id"] == created[0].json()["id"]


async def test_concurrent_confirms_reserve_stock_once(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    draft = await new_draft(api, quantity=2, query="масло")
    await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    product_id = draft["items"][0]["product_id"]
    before = (await api.get(f"/products/{product_id}")).json()["stock_qty"]
    key = {"Idempotency-Key": f"confirm-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(api.post(f"/orders/{draft['id']}/confirm", headers=key, json={}) for _ in range(10))
    )
    assert {r.status_code for r in responses} <= {200, 409}
    assert any(r.status_code == 200 for r in responses)
    assert (await api.get(f"/products/{product_id}")).json()["stock_qty"] == before - 2


async def test_crash_before_commit_keeps_neither_order_nor_key(
    api: httpx.AsyncClient, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    product = await in_stock_product(api, "гречка")
    call_id = f"crash-{uuid.uuid4()}"
    body = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": product["id"], "quantity": 1}],
        "call_id": call_id,
    }
    key = {"Idempotency-Key": f"{call_id}:create"}
    await store_api.set_faults(fail_before_commit=True, path_glob="/orders")
    failed = await api.post("/orders", headers=key, json=body)
    assert failed.status_code == 503
    conn = await asyncpg.connect(store_api.database_url)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM store.orders WHERE call_id = $1", call_id)
            == 0
        )
        stored = await conn.fetchval(
            "SELECT count(*) FROM store.idempotency_keys WHERE key = $1", key["Idempotency-Key"]
        )
        assert stored == 0
        await store_api.clear_faults()
        retried = await api.post("/orders", headers=key, json=body)
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
        assert (
            await conn.fetchval("SELECT count(*) FROM store.orders WHERE call_id = $1", call_id)
            == 1
        )
    finally:
        await conn.close()
