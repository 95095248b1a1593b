"""B5's verdict on idempotency, read from PostgreSQL rather than from the answers the
clients got: answers can agree with each other while the database holds two orders.

Every order the benchmark placed carries its ref as `call_id`, and its keys are
`ref:create` and `ref:confirm`, so the database can be asked, per client order:
- how many orders exist (exactly one: none missing, none duplicated);
- whether the stored answer to `ref:create` names that one order;
- how many times it was confirmed (one `confirmed` history row; a second confirm effect
  would add another) and whether its stock was taken once (per product, the stock that
  went away during the run equals the quantities in the benchmark's confirmed orders).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

import asyncpg

ORDERS_PATH = "/api/v1/orders"


@dataclass(frozen=True)
class Audit:
    client_orders: int
    orders_in_db: int
    duplicate_orders: int  # Σ over client orders of (orders with its call_id − 1)
    missing_orders: int  # client orders with no order at all
    max_orders_per_client_order: int
    create_keys_stored: int
    create_keys_not_naming_the_order: int
    not_confirmed: int
    confirmed_more_than_once: int
    products_with_stock_mismatch: int


async def audit(
    database_url: str, prefix: str, refs: list[str], stock_before: dict[str, int]
) -> Audit:
    conn = await asyncpg.connect(database_url)
    try:
        pattern = f"{prefix}-%"
        orders = await conn.fetch(
            """SELECT o.id::text AS id, o.call_id, o.status,
                      (SELECT count(*) FROM store.order_status_history h
                        WHERE h.order_id = o.id AND h.status = 'confirmed') AS confirmations
                 FROM store.orders o WHERE o.call_id LIKE $1""",
            pattern,
        )
        keys = await conn.fetch(
            """SELECT key, convert_from(response_body, 'UTF8') AS body
                 FROM store.idempotency_keys
                WHERE method = 'POST' AND path = $1 AND key LIKE $2""",
            ORDERS_PATH,
            pattern,
        )
        stock = await conn.fetch(
            """SELECT p.id::text AS id, p.stock_qty,
                      coalesce((SELECT sum(i.quantity) FROM store.order_items i
                                  JOIN store.orders o ON o.id = i.order_id
                                 WHERE i.product_id = p.id AND o.stock_reserved
                                   AND o.call_id LIKE $2), 0) AS reserved
                 FROM store.products p WHERE p.id = ANY($1::uuid[])""",
            list(stock_before),
            pattern,
        )
    finally:
        await conn.close()

    by_ref: dict[str, list[str]] = defaultdict(list)
    for row in orders:
        by_ref[row["call_id"]].append(row["id"])
    stored = {row["key"].removesuffix(":create"): json.loads(row["body"]) for row in keys}
    return Audit(
        client_orders=len(refs),
        orders_in_db=len(orders),
        duplicate_orders=sum(len(ids) - 1 for ids in by_ref.values() if len(ids) > 1),
        missing_orders=sum(1 for ref in refs if ref not in by_ref),
        max_orders_per_client_order=max((len(ids) for ids in by_ref.values()), default=0),
        create_keys_stored=len(stored),
        create_keys_not_naming_the_order=sum(
            1 for ref, body in stored.items() if [body.get("id")] != by_ref.get(ref)
        ),
        not_confirmed=sum(1 for row in orders if row["status"] != "confirmed"),
        confirmed_more_than_once=sum(1 for row in orders if row["confirmations"] > 1),
        products_with_stock_mismatch=sum(
            1 for row in stock if stock_before[row["id"]] - row["stock_qty"] != row["reserved"]
        ),
    )
