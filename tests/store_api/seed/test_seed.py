"""Loading the demo data into a real PostgreSQL: idempotent, race-free, and as specified.

The session database is shared: the Store API fixture may have seeded it already, and other
tests may have added orders or changed stock and prices since. Checks on it are therefore
limited to what the seed owns (its order numbers) and to what no test undoes. The exact
counts and the concurrent first load are checked on a database of this module's own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import TypeAdapter

from core.db.migrate import apply_migrations
from store_api.contract import STORE_TZ, CourierDelivery, OrderStatus, PickupDelivery
from store_api.seed import MANY_ACTIVE, PERSONAS, SeedReport, product_id, seed_store
from store_api.seed.catalogue import CATEGORIES, by_name, products
from store_api.seed.delivery import PICKUP_POINTS, ZONES
from store_api.seed.order_book import ORDERS
from store_api.seed.personas import CUSTOMERS
from tests.support.servers import with_database

MIGRATIONS = Path(__file__).resolve().parents[3] / "store_api" / "migrations"
SEEDED_NUMBERS = [spec.number for spec in ORDERS]
ACTIVE = [s.value for s in OrderStatus if s.is_active]
DELIVERY = TypeAdapter(CourierDelivery | PickupDelivery)
TODAY = dt.datetime.now(STORE_TZ).date()  # the shop's today, as the server seeds it

COUNTS_SQL = """SELECT (SELECT count(*) FROM store.products) AS products,
                       (SELECT count(*) FROM store.categories) AS categories,
                       (SELECT count(*) FROM store.pickup_points) AS pickup_points,
                       (SELECT count(*) FROM store.delivery_zones) AS zones,
                       (SELECT count(*) FROM store.customers) AS customers,
                       (SELECT count(*) FROM store.orders) AS orders,
                       (SELECT count(*) FROM store.order_items) AS order_items,
                       (SELECT count(*) FROM store.order_status_history) AS history"""


async def migrated(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, "store", MIGRATIONS)
    except BaseException:
        await conn.close()
        raise
    return conn


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> AsyncIterator[tuple[SeedReport, SeedReport]]:
    """The shared session database, seeded (by us or before us) and seeded once more."""
    conn = await migrated(database_url)
    try:
        first = await seed_store(conn, today=TODAY)
        before = dict((await conn.fetchrow(COUNTS_SQL)) or {})
        second = await seed_store(conn, today=TODAY)
        after = dict((await conn.fetchrow(COUNTS_SQL)) or {})
        assert second.already_seeded
        assert after == before, "a second seed must not add or remove anything"
        yield first, second
    finally:
        await conn.close()


@pytest.fixture
async def db(
    database_url: str, seeded: tuple[SeedReport, SeedReport]
) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def empty_database(database_url: str) -> AsyncIterator[str]:
    """A second, migrated but unseeded database on the same server."""
    name = f"vo_seed_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_database(database_url, name)
        await (await migrated(url)).close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_second_seed_reports_the_same_store(seeded: tuple[SeedReport, SeedReport]) -> None:
    first, second = seeded
    assert second.already_seeded
    assert second.products == first.products >= 200
    assert second.categories == first.categories >= 8
    assert second.pickup_points == first.pickup_points
    assert second.zones == first.zones
    assert second.orders == first.orders >= len(ORDERS)


async def test_first_load_inserts_exactly_the_data_set(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        report = await seed_store(conn, today=TODAY)
        counts = await conn.fetchrow(COUNTS_SQL)
    finally:
        await conn.close()
    assert report == SeedReport(
        products=len(products()),
        categories=len(CATEGORIES),
        pickup_points=len(PICKUP_POINTS),
        zones=len(ZONES),
        customers=len(CUSTOMERS),
        orders=len(ORDERS),
        already_seeded=False,
    )
    assert counts is not None
    assert counts["order_items"] == sum(len(spec.lines) for spec in ORDERS)
    assert counts["history"] > counts["orders"]


async def test_concurrent_first_loads_seed_once(empty_database: str) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(seed_store(c, today=TODAY) for c in conns))
        orders = await conns[0].fetchval("SELECT count(*) FROM store.orders")
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(r.already_seeded for r in reports) == [False, True, True]
    assert orders == len(ORDERS)


async def test_an_existing_customer_keeps_their_row(empty_database: str) -> None:
    """A caller created through the API before the seed ran must not break the load."""
    conn = await asyncpg.connect(empty_database)
    try:
        existing = await conn.fetchval(
            "INSERT INTO store.customers (phone) VALUES ($1) RETURNING id", MANY_ACTIVE.phone
        )
        await seed_store(conn, today=TODAY)
        row = await conn.fetchrow(
            "SELECT id, name FROM store.customers WHERE phone = $1", MANY_ACTIVE.phone
        )
        owned = await conn.fetchval(
            "SELECT count(*) FROM store.orders WHERE customer_id = $1", existing
        )
    finally:
        await conn.close()
    assert row is not None and (row["id"], row["name"]) == (existing, MANY_ACTIVE.name)
    assert owned == len(MANY_ACTIVE.orders)


async def test_catalogue_in_the_database(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM store.products") >= 200
    assert await db.fetchval("SELECT count(DISTINCT category_id) FROM store.products") >= 8
    assert await db.fetchval("SELECT count(*) FROM store.products WHERE stock_qty = 0") >= 1
    assert await db.fetchval("SELECT id FROM store.products WHERE sku = 'GR-0001'") == product_id(
        "GR-0001"
    )
    cities = await db.fetchval("SELECT count(DISTINCT city) FROM store.pickup_points")
    assert cities >= 3


async def test_russian_full_text_search_finds_buckwheat(db: asyncpg.Connection) -> None:
    names = [
        row["name"]
        for row in await db.fetch(
            """SELECT name FROM store.products
                WHERE search_tsv @@ plainto_tsquery('russian', store.search_norm($1))""",
            "гречку",
        )
    ]
    assert len(names) >= 5 and all("греч" in name.lower() for name in names), names


async def test_seeded_orders_in_every_status(db: asyncpg.Connection) -> None:
    statuses = await db.fetch(
        "SELECT DISTINCT status FROM store.orders WHERE number = ANY($1)", SEEDED_NUMBERS
    )
    assert {row["status"] for row in statuses} == {s.value for s in OrderStatus}


async def test_personas_active_orders(db: asyncpg.Connection) -> None:
    for persona in PERSONAS:
        rows = await db.fetch(
            """SELECT o.number FROM store.orders o JOIN store.customers c ON c.id = o.customer_id
                WHERE c.phone = $1 AND o.status = ANY($2) AND o.number = ANY($3)
                ORDER BY o.created_at DESC""",
            persona.phone,
            ACTIVE,
            SEEDED_NUMBERS,
        )
        assert tuple(row["number"] for row in rows) == persona.active_orders, persona.name
    assert len(MANY_ACTIVE.active_orders) == 3


async def test_seeded_order_money_adds_up(db: asyncpg.Connection) -> None:
    orders = await db.fetch(
        """SELECT o.number, o.items_total, o.delivery_cost, o.total,
                  (SELECT coalesce(sum(line_total), 0) FROM store.order_items i
                    WHERE i.order_id = o.id) AS lines_total
             FROM store.orders o WHERE o.number = ANY($1)""",
        SEEDED_NUMBERS,
    )
    assert len(orders) == len(ORDERS)
    for order in orders:
        assert order["total"] == order["items_total"] + order["delivery_cost"], order["number"]
        assert order["items_total"] == order["lines_total"], order["number"]
    items = await db.fetch(
        """SELECT i.name, i.sku, i.quantity, i.unit_price, i.line_total FROM store.order_items i
             JOIN store.orders o ON o.id = i.order_id WHERE o.number = ANY($1)""",
        SEEDED_NUMBERS,
    )
    for item in items:
        # The catalogue's seed price, not today's: tests may change prices in the database.
        assert (item["sku"], item["unit_price"]) == (
            by_name(item["name"]).sku,
            by_name(item["name"]).price,
        )
        assert item["line_total"] == item["unit_price"] * item["quantity"]


async def test_seeded_delivery_has_the_wire_shape(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        """SELECT number, status, delivery, stock_reserved FROM store.orders
            WHERE number = ANY($1)""",
        SEEDED_NUMBERS,
    )
    with_delivery = 0
    for row in rows:
        assert row["stock_reserved"] == OrderStatus(row["status"]).is_active, row["number"]
        if row["delivery"] is None:
            continue
        raw = json.loads(row["delivery"])
        assert DELIVERY.validate_python(raw).model_dump(mode="json") == raw, row["number"]
        with_delivery += 1
    assert with_delivery >= len(ORDERS) - 2


async def test_seeded_history_ends_in_the_current_status(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        """SELECT o.number, o.status, o.created_at,
                  array_agg(h.status ORDER BY h.at) AS path, max(h.at) AS last_at
             FROM store.orders o JOIN store.order_status_history h ON h.order_id = o.id
            WHERE o.number = ANY($1)
            GROUP BY o.id""",
        SEEDED_NUMBERS,
    )
    assert len(rows) == len(ORDERS)
    for row in rows:
        assert row["path"][0] == "draft" and row["path"][-1] == row["status"], row["number"]
        assert row["last_at"] < dt.datetime.now(dt.UTC)
