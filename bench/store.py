"""B5: the Store API under concurrent clients that create, deliver and confirm orders with
Idempotency-Keys and resend some requests — throughput, latency, and no duplicate orders,
checked in PostgreSQL.

Everything real runs on this machine: PostgreSQL (embedded, or a scratch database on the
server named by DATABASE_URL), the Store API as its own process (`voiceorder store-api
serve`, migrated and seeded, logging a line per request to a file as in production).
This process plays the clients (bench/store_workload.py) and then asks the database
(bench/store_audit.py).

Phases, in one run: a short warm-up; **baseline 1**, one client placing orders one after
another without resends (what an order costs with no contention); **baseline 2**, the same
clients sending `GET /health` (the server's floor: HTTP and one `SELECT 1`); then the
**load**: `clients` concurrent clients, `orders` orders, a share `retry_rate` of the keyed
requests resent (half as a lost response, half as two concurrent copies).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "store.json"
PRODUCTS = 20  # orders take 2 of them: some row contention on stock, as on popular goods
STOCK = 1_000_000
WARMUP_ORDERS = 10


def _stats(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "n": len(ordered),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


async def run(clients: int, orders: int, retry_rate: float, log: Path) -> dict[str, Any]:
    # Benchmarks run from a checkout and reuse the test suite's real-server helpers.
    sys.path.insert(0, str(PROJECT_ROOT))
    import asyncpg

    from bench.cpu import backends_spent, postgres_backends_cpu_s, process_cpu_s, spent
    from bench.store_audit import audit
    from bench.store_workload import Catalogue, health_phase, orders_phase
    from tests.support.servers import postgres_database, store_api_server

    prefix = f"b5-{uuid.uuid4().hex[:8]}"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vo-bench-store-") as tmp:
        async with (
            postgres_database(Path(tmp)) as database_url,
            store_api_server(database_url, log=log) as api,
        ):
            conn = await asyncpg.connect(database_url)
            try:
                ids = [
                    str(row["id"])
                    for row in await conn.fetch(
                        "SELECT id FROM store.products ORDER BY sku LIMIT $1", PRODUCTS
                    )
                ]
            finally:
                await conn.close()
            for product_id in ids:
                await api.set_product(product_id, stock_qty=STOCK)
            catalogue = Catalogue(tuple(ids))
            url, token = api.base_url, api.token

            _, _, _, warm = await orders_phase(
                url, token, catalogue, f"{prefix}-w", 1, WARMUP_ORDERS, 0.0
            )
            single_orders = max(50, min(200, orders // 5))
            single, single_times, single_wall, single_refs = await orders_phase(
                url, token, catalogue, f"{prefix}-s", 1, single_orders, 0.0
            )
            health, health_wall = await health_phase(url, token, clients, 3 * orders)
            pid = api.process.pid
            clients_cpu, api_cpu = process_cpu_s(), process_cpu_s(pid)
            backends = await postgres_backends_cpu_s(database_url)
            load, times, wall, refs = await orders_phase(
                url, token, catalogue, f"{prefix}-l", clients, orders, retry_rate
            )
            cpu = {
                "clients_s": spent(clients_cpu, process_cpu_s()),
                "store_api_s": spent(api_cpu, process_cpu_s(pid)),
                "postgres_s": backends_spent(backends, await postgres_backends_cpu_s(database_url)),
            }
            verdict = await audit(
                database_url, prefix, warm + single_refs + refs, dict.fromkeys(ids, STOCK)
            )

    completed = len(times.order) + len(times.order_resent)
    single_done = len(single_times.order)
    order_stats = _stats(times.order)
    single_stats = _stats(single_times.order)
    result: dict[str, Any] = {
        "benchmark": "B5 Store API",
        "clients": clients,
        "orders": orders,
        "retry_rate": retry_rate,
        "load": {
            "wall_s": round(wall, 3),
            "orders_completed": completed,
            "throughput_orders_per_s": round(completed / wall, 1),
            "requests_per_s": round(load.requests / wall, 1),
            "create": _stats(times.create),
            "delivery": _stats(times.delivery),
            "confirm": _stats(times.confirm),
            "order": order_stats,
            "order_resent": _stats(times.order_resent),
            "requests": load.requests,
            "lost_responses": load.lost_responses,
            "concurrent_resends": load.concurrent_resends,
            "replays": load.replays,
            "in_progress_409": load.in_progress_409,
            "inconsistent_answers": load.inconsistent_answers,
            "failed_orders": load.failed_orders + single.failed_orders,
            "unexpected": dict(load.unexpected + single.unexpected),
            # CPU spent during the load by this process (the clients), the Store API and
            # the PostgreSQL backends serving it (None when PostgreSQL is on another host).
            "cpu": cpu,
        },
        "baseline_single_client": {
            "orders": single_orders,
            "throughput_orders_per_s": round(single_done / single_wall, 1),
            "create": _stats(single_times.create),
            "delivery": _stats(single_times.delivery),
            "confirm": _stats(single_times.confirm),
            "order": single_stats,
        },
        "baseline_health": {
            "requests": len(health),
            "requests_per_s": round(len(health) / health_wall, 1),
            "latency": _stats(health),
        },
        "ratios": {
            "order_p95_vs_single_client": _ratio(
                order_stats["p95_ms"] if order_stats else None,
                single_stats["p95_ms"] if single_stats else None,
            ),
            "throughput_vs_single_client": _ratio(completed / wall, single_done / single_wall),
            "requests_per_s_vs_health": _ratio(load.requests / wall, len(health) / health_wall),
        },
        "database": asdict(verdict),
        "duplicate_orders": verdict.duplicate_orders,
        "machine": {
            "cpus": os.cpu_count(),
            # The embedded server is the test suite's: no fsync, so commits cost no disk
            # flush; DATABASE_URL brings a server with its own settings.
            "postgres": "DATABASE_URL server"
            if os.environ.get("DATABASE_URL")
            else "embedded, fsync=off, synchronous_commit=off",
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    result["problems"] = problems(result)
    return result


def problems(result: dict[str, Any]) -> list[str]:
    """What makes the run a failure whatever its speed: idempotency broken, or orders that
    did not go through."""
    db, load = result["database"], result["load"]
    found = [
        f"{db[name]} {text}"
        for name, text in (
            ("duplicate_orders", "duplicate orders in the database"),
            ("missing_orders", "client orders with no order in the database"),
            ("create_keys_not_naming_the_order", "stored create answers naming another order"),
            ("not_confirmed", "orders not confirmed"),
            ("confirmed_more_than_once", "orders confirmed more than once"),
            ("products_with_stock_mismatch", "products whose stock was not taken exactly once"),
        )
        if db[name]
    ]
    if load["inconsistent_answers"]:
        found.append(f"{load['inconsistent_answers']} keys answered differently on a resend")
    if load["failed_orders"]:
        found.append(f"{load['failed_orders']} orders failed: {load['unexpected']}")
    return found


def markdown(result: dict[str, Any]) -> str:
    load, single, health = (
        result["load"],
        result["baseline_single_client"],
        result["baseline_health"],
    )
    db, ratios = result["database"], result["ratios"]

    def row(name: str, stats: dict[str, float] | None) -> str:
        if stats is None:
            return f"| {name} | – | – | 0 |"
        return f"| {name} | {stats['p50_ms']} | {stats['p95_ms']} | {stats['n']} |"

    lines = [
        f"{result['clients']} concurrent clients, {result['orders']} orders (draft + delivery"
        f" + confirm), {result['retry_rate']:.0%} of keyed requests resent",
        "",
        "| what | p50 ms | p95 ms | n |",
        "|---|---|---|---|",
        row("create draft, `POST /orders` (sent once)", load["create"]),
        row("set delivery, `PATCH /orders/{id}/delivery`", load["delivery"]),
        row("confirm, `POST /orders/{id}/confirm` (sent once)", load["confirm"]),
        row("**whole order**, no resend", load["order"]),
        row("whole order with a resend (client timeout included)", load["order_resent"]),
        row("baseline: whole order, one client alone", single["order"]),
        row("baseline: `GET /health`, same clients", health["latency"]),
        "",
        "| throughput | load | baseline | ratio |",
        "|---|---|---|---|",
        f"| orders/s | **{load['throughput_orders_per_s']}** |"
        f" {single['throughput_orders_per_s']} (one client) |"
        f" {ratios['throughput_vs_single_client']} × |",
        f"| HTTP requests/s | {load['requests_per_s']} | {health['requests_per_s']}"
        f" (`/health`) | {ratios['requests_per_s_vs_health']} × |",
        f"| order p95 | {(load['order'] or {}).get('p95_ms')} ms |"
        f" {(single['order'] or {}).get('p95_ms')} ms (one client) |"
        f" {ratios['order_p95_vs_single_client']} × |",
        "",
        "| idempotency | count |",
        "|---|---|",
        f"| resends: lost response / two concurrent copies | {load['lost_responses']}"
        f" / {load['concurrent_resends']} |",
        f"| replays seen (`Idempotent-Replayed: true`) | {load['replays']} |",
        f"| 409 IDEMPOTENCY_KEY_IN_PROGRESS seen | {load['in_progress_409']} |",
        f"| keys answered differently on a resend | {load['inconsistent_answers']} |",
        f"| orders in PostgreSQL / client orders | {db['orders_in_db']} / {db['client_orders']} |",
        f"| **duplicate orders (PostgreSQL)** | **{db['duplicate_orders']}** |",
        f"| missing orders / confirmed twice / stock taken ≠ once | {db['missing_orders']}"
        f" / {db['confirmed_more_than_once']} / {db['products_with_stock_mismatch']} |",
        f"| failed orders | {load['failed_orders']} |",
        "",
        f"CPU during the load: clients {load['cpu']['clients_s']} s, Store API"
        f" {load['cpu']['store_api_s']} s, PostgreSQL {load['cpu']['postgres_s']} s,"
        f" in {load['wall_s']} s of wall time × {result['machine']['cpus']} CPUs",
        "",
        f"box: {result['machine']['cpus']} CPUs, PostgreSQL {result['machine']['postgres']},"
        " load average (1 min)"
        f" {result['machine']['load_avg_1m_before']} before,"
        f" {result['machine']['load_avg_1m_after']} after",
    ]
    if result["problems"]:
        lines += ["", "**FAILED:** " + "; ".join(result["problems"])]
    return "\n".join(lines)


def save(result: dict[str, Any], path: Path = DEFAULT_OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
