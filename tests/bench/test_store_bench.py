"""B5 (`voiceorder bench store`) at a tiny size: the command runs on its own (PostgreSQL,
the Store API process), writes its JSON, and its database audit finds no duplicate order.
And the audit itself: shown a duplicate that really is in PostgreSQL, it reports it.
No timing is asserted; the numbers belong to the benchmark."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from bench.store_audit import audit
from tests.bench.run import run_bench
from tests.support.servers import StoreApiServer

ORDERS = 6


async def test_bench_store_at_a_tiny_size_reports_and_finds_no_duplicates(
    tmp_path: Path,
) -> None:
    output = tmp_path / "store.json"
    text, result = await run_bench(
        "store",
        "--clients",
        "3",
        "--orders",
        str(ORDERS),
        # every keyed request is resent: the resend paths run whatever the dice say
        "--retry-rate",
        "1",
        output=output,
    )
    assert "| **duplicate orders (PostgreSQL)** | **0** |" in text

    assert result["problems"] == []
    assert result["duplicate_orders"] == 0
    db = result["database"]
    assert db["duplicate_orders"] == 0 and db["missing_orders"] == 0
    assert db["orders_in_db"] == db["client_orders"] == db["create_keys_stored"]
    assert db["confirmed_more_than_once"] == db["products_with_stock_mismatch"] == 0
    load = result["load"]
    assert load["orders_completed"] == ORDERS and load["failed_orders"] == 0
    assert load["lost_responses"] + load["concurrent_resends"] == 2 * ORDERS
    assert load["replays"] >= 1 and load["inconsistent_answers"] == 0
    for section, fields in {
        "load": ("throughput_orders_per_s", "requests_per_s", "order_resent", "in_progress_409"),
        "baseline_single_client": ("throughput_orders_per_s", "order", "create", "confirm"),
        "baseline_health": ("requests_per_s", "latency"),
        "ratios": (
            "order_p95_vs_single_client",
            "throughput_vs_single_client",
            "requests_per_s_vs_health",
        ),
    }.items():
        assert set(fields) <= set(result[section]), (section, result[section])
    assert (tmp_path / "store_api.log").stat().st_size > 0  # the server logged elsewhere


async def test_the_audit_counts_a_duplicate_that_is_in_the_database(
    store_api: StoreApiServer,
) -> None:
    """Two drafts for one client order under two keys — what a client without idempotency
    would leave behind — are one duplicate; a client order never placed is missing."""
    prefix = f"b5-audit-{uuid.uuid4().hex[:8]}"
    ref = f"{prefix}-000000"
    async with httpx.AsyncClient(base_url=store_api.base_url, headers=store_api.auth) as api:
        product = (await api.get("/products/search", params={"q": "гречка", "limit": 1})).json()
        draft = {
            "customer": {"phone": "+79850000999"},
            "items": [{"product_id": product["items"][0]["id"], "quantity": 1}],
            "call_id": ref,
        }
        for key in (f"{ref}:create", f"{ref}:create-again"):
            created = await api.post("/orders", json=draft, headers={"Idempotency-Key": key})
            assert created.status_code == 201, created.text

    found = await audit(store_api.database_url, prefix, [ref, f"{prefix}-000001"], {})
    assert found.orders_in_db == 2
    assert found.duplicate_orders == 1 and found.max_orders_per_client_order == 2
    assert found.missing_orders == 1
    assert found.not_confirmed == 2
