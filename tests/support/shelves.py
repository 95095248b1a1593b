"""Stock on the demo shelves: back as seeded, so a test's order does not depend on earlier
tests; or full, for benchmarks whose every call orders.

The test session shares one Store API; every confirmed order takes its items off the
shelf, so a product with 5–20 in stock runs short after a few hundred scenario tests and
a later test's draft fails with OUT_OF_STOCK for reasons of test order alone.
"""

from __future__ import annotations

import uuid
from functools import cache

import asyncpg

from store_api.seed.catalogue import products


@cache
def _seeded_stock() -> tuple[list[uuid.UUID], list[int]]:
    seeded = products()
    return [p.id for p in seeded], [p.stock_qty for p in seeded]


async def restock_as_seeded(database_url: str) -> None:
    """Every product's stock back to its seed value (one statement, a few milliseconds)."""
    ids, quantities = _seeded_stock()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """UPDATE store.products p SET stock_qty = s.qty
               FROM unnest($1::uuid[], $2::int[]) AS s(id, qty)
               WHERE p.id = s.id AND p.stock_qty <> s.qty""",
            ids,
            quantities,
        )
    finally:
        await conn.close()


async def stock_every_product(database_url: str, quantity: int) -> None:
    """Every product, sold-out ones included, `quantity` in stock (one statement)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE store.products SET stock_qty = $1", quantity)
    finally:
        await conn.close()
