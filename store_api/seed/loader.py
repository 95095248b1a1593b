"""Load the demo data set into the `store` schema, once.

The whole load is one transaction behind a transaction-scoped advisory lock: the test
session's server and a test may seed the same database at the same moment, and exactly one
of them must do it while the other sees the finished result. "Already seeded" means the
catalogue has products; then nothing is touched, so a re-run never duplicates and never
undoes what tests or demos changed since.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from store_api.contract import STORE_TZ
from store_api.seed import catalogue, delivery
from store_api.seed.ids import customer_id
from store_api.seed.orders import OrderSeed, build_orders
from store_api.seed.personas import CUSTOMERS

log = structlog.get_logger(__name__)

_SEED_LOCK = 0x73656564  # "seed"


@dataclass(frozen=True, slots=True)
class SeedReport:
    """How many rows the store holds after `seed_store`, and whether this call loaded them.

    The counts are the store's totals either way, so a second run reports the same numbers
    as the first (plus whatever was created through the API in between).
    """

    products: int
    categories: int
    pickup_points: int
    zones: int
    customers: int
    orders: int
    already_seeded: bool


async def seed_store(conn: asyncpg.Connection, *, today: dt.date) -> SeedReport:
    """Load the demo catalogue, delivery options, customers and orders unless already there.

    `today` anchors every relative date: orders created "yesterday", arriving "tomorrow".
    """
    orders = build_orders(today)  # pure and validated: fail before touching the database
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEED_LOCK)
        already_seeded = bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM store.products)"))
        if not already_seeded:
            await _insert_catalogue(conn)
            await _insert_delivery(conn)
            ids = await _insert_customers(conn, today)
            await _insert_orders(conn, orders, ids)
        report = await _count(conn, already_seeded=already_seeded)
    log.info(
        "store seed already present" if already_seeded else "store seeded",
        products=report.products,
        customers=report.customers,
        orders=report.orders,
    )
    return report


async def _insert_catalogue(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        "INSERT INTO store.categories (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        [(category.id, category.name) for category in catalogue.CATEGORIES],
    )
    await conn.copy_records_to_table(
        "products",
        schema_name="store",
        columns=["id", "sku", "category_id", "name", "description", "price", "stock_qty", "unit"],
        records=[
            (p.id, p.sku, p.category_id, p.name, p.description, p.price, p.stock_qty, p.unit)
            for p in catalogue.products()
        ],
    )


async def _insert_delivery(conn: asyncpg.Connection) -> None:
    # ON CONFLICT: a test may have set up a zone or point of its own before the seed ran.
    await conn.executemany(
        """INSERT INTO store.delivery_zones (city, zone, cost, free_from, days, max_days_ahead)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (city) DO NOTHING""",
        [(z.city, z.zone, z.cost, z.free_from, z.days, z.max_days_ahead) for z in delivery.ZONES],
    )
    await conn.executemany(
        """INSERT INTO store.pickup_points (id, name, city, address, hours, cost, days)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING""",
        [
            (p.id, p.name, p.city, p.address, p.hours, p.cost, p.days)
            for p in delivery.PICKUP_POINTS
        ],
    )


async def _insert_customers(conn: asyncpg.Connection, today: dt.date) -> dict[str, uuid.UUID]:
    """Insert the demo customers; return phone → id, including rows that already existed.

    A caller may already have been created through the API (POST /orders creates unknown
    customers), so the existing row and its id win and only a missing name is filled in.
    """
    noon = dt.time(12, 0)
    rows = await conn.fetch(
        """INSERT INTO store.customers (id, phone, name, created_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
           ON CONFLICT (phone) DO UPDATE SET name = coalesce(store.customers.name, excluded.name)
           RETURNING id, phone""",
        [customer_id(c.phone) for c in CUSTOMERS],
        [c.phone for c in CUSTOMERS],
        [c.name for c in CUSTOMERS],
        [
            dt.datetime.combine(today - dt.timedelta(days=c.since_days), noon, STORE_TZ)
            for c in CUSTOMERS
        ],
    )
    return {row["phone"]: row["id"] for row in rows}


async def _insert_orders(
    conn: asyncpg.Connection, orders: Sequence[OrderSeed], customer_ids: dict[str, uuid.UUID]
) -> None:
    await conn.executemany(
        """INSERT INTO store.orders (
               id, number, status, customer_id, items_total, delivery_cost, total, delivery,
               estimated_date, channel, comment, stock_reserved, cancel_reason,
               created_at, updated_at, confirmed_at, cancelled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13,
                   $14, $15, $16, $17)""",
        [
            (
                o.id,
                o.number,
                o.status.value,
                customer_ids[o.customer_phone],
                o.items_total,
                o.delivery_cost,
                o.total,
                None if o.delivery is None else json.dumps(o.delivery, ensure_ascii=False),
                o.estimated_date,
                o.channel,
                o.comment,
                o.stock_reserved,
                o.cancel_reason,
                o.created_at,
                o.updated_at,
                o.confirmed_at,
                o.cancelled_at,
            )
            for o in orders
        ],
    )
    await conn.copy_records_to_table(
        "order_items",
        schema_name="store",
        columns=[
            "order_id",
            "position",
            "product_id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "line_total",
        ],
        records=[
            (o.id, i.position, i.product_id, i.sku, i.name, i.quantity, i.unit_price, i.line_total)
            for o in orders
            for i in o.items
        ],
    )
    await conn.copy_records_to_table(
        "order_status_history",
        schema_name="store",
        columns=["order_id", "status", "at"],
        records=[(o.id, status.value, at) for o in orders for status, at in o.history],
    )


async def _count(conn: asyncpg.Connection, *, already_seeded: bool) -> SeedReport:
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM store.products) AS products,
                  (SELECT count(*) FROM store.categories) AS categories,
                  (SELECT count(*) FROM store.pickup_points) AS pickup_points,
                  (SELECT count(*) FROM store.delivery_zones) AS zones,
                  (SELECT count(*) FROM store.customers) AS customers,
                  (SELECT count(*) FROM store.orders) AS orders"""
    )
    assert row is not None  # a SELECT without FROM always yields one row
    return SeedReport(
        products=row["products"],
        categories=row["categories"],
        pickup_points=row["pickup_points"],
        zones=row["zones"],
        customers=row["customers"],
        orders=row["orders"],
        already_seeded=already_seeded,
    )
