"""Reading and writing orders in SQL, returning contract models."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from core.db import DbConn
from store_api.contract import (
    STORE_TZ,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    OrderSummary,
    StatusChange,
)

_ORDER_COLUMNS = """
    o.id, o.number, o.status, o.items_total, o.delivery_cost, o.total, o.delivery,
    o.estimated_date, o.channel, o.call_id, o.comment, o.stock_reserved,
    o.created_at, o.updated_at, o.confirmed_at, o.cancelled_at,
    c.id AS customer_id, c.phone AS customer_phone, c.name AS customer_name
"""


def local_time(value: dt.datetime | None) -> dt.datetime | None:
    """RFC 3339 with the shop's offset (+03:00) reads better than UTC in a voice reply."""
    return value.astimezone(STORE_TZ) if value is not None else None


async def fetch_order_row(
    conn: DbConn, order_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF o" if for_update else ""
    return await conn.fetchrow(
        f"""SELECT {_ORDER_COLUMNS}
              FROM store.orders o JOIN store.customers c ON c.id = o.customer_id
             WHERE o.id = $1{lock}""",
        order_id,
    )


async def fetch_items(conn: DbConn, order_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT product_id, sku, name, quantity, unit_price, line_total
             FROM store.order_items WHERE order_id = $1 ORDER BY position""",
        order_id,
    )


async def load_order(conn: DbConn, order_id: uuid.UUID) -> Order | None:
    row = await fetch_order_row(conn, order_id)
    if row is None:
        return None
    items = await fetch_items(conn, order_id)
    history = await conn.fetch(
        "SELECT status, at FROM store.order_status_history WHERE order_id = $1 ORDER BY at, ctid",
        order_id,
    )
    return order_from_rows(row, items, history)


def stored_delivery(row: asyncpg.Record) -> Any:
    """The order row's delivery as JSON data (asyncpg hands jsonb over as text), or None."""
    delivery = row["delivery"]
    return json.loads(delivery) if isinstance(delivery, str) else delivery


def order_from_rows(
    row: asyncpg.Record, items: Sequence[asyncpg.Record], history: Sequence[asyncpg.Record]
) -> Order:
    status = OrderStatus(row["status"])
    created_at = local_time(row["created_at"])
    updated_at = local_time(row["updated_at"])
    assert created_at is not None and updated_at is not None
    return Order(
        id=str(row["id"]),
        number=row["number"],
        status=status,
        status_text_ru=status.text_ru,
        customer=Customer(
            id=str(row["customer_id"]), phone=row["customer_phone"], name=row["customer_name"]
        ),
        items=[
            OrderItem(
                product_id=str(item["product_id"]),
                sku=item["sku"],
                name=item["name"],
                quantity=item["quantity"],
                unit_price=item["unit_price"],
                line_total=item["line_total"],
            )
            for item in items
        ],
        items_total=row["items_total"],
        delivery_cost=row["delivery_cost"],
        total=row["total"],
        delivery=stored_delivery(row),
        estimated_date=row["estimated_date"],
        channel=row["channel"],
        call_id=row["call_id"],
        comment=row["comment"],
        created_at=created_at,
        updated_at=updated_at,
        confirmed_at=local_time(row["confirmed_at"]),
        cancelled_at=local_time(row["cancelled_at"]),
        history=[
            StatusChange(status=OrderStatus(h["status"]), at=local_time(h["at"]) or h["at"])
            for h in history
        ],
    )


async def search_orders(
    conn: DbConn,
    *,
    phone: str | None,
    number: str | None,
    status: OrderStatus | None,
    limit: int,
) -> list[OrderSummary]:
    rows = await conn.fetch(
        """SELECT o.id, o.number, o.status, o.total, o.created_at, o.estimated_date,
                  (SELECT coalesce(sum(i.quantity), 0) FROM store.order_items i
                    WHERE i.order_id = o.id)::int AS items_count
             FROM store.orders o JOIN store.customers c ON c.id = o.customer_id
            WHERE ($1::text IS NULL OR c.phone = $1)
              AND ($2::text IS NULL OR o.number = $2)
              AND ($3::text IS NULL OR o.status = $3)
            ORDER BY o.created_at DESC, o.number DESC
            LIMIT $4""",
        phone,
        number,
        status.value if status else None,
        limit,
    )
    summaries = []
    for row in rows:
        row_status = OrderStatus(row["status"])
        created_at = local_time(row["created_at"])
        assert created_at is not None
        summaries.append(
            OrderSummary(
                id=str(row["id"]),
                number=row["number"],
                status=row_status,
                status_text_ru=row_status.text_ru,
                total=row["total"],
                items_count=row["items_count"],
                created_at=created_at,
                estimated_date=row["estimated_date"],
            )
        )
    return summaries


async def record_status(conn: DbConn, order_id: uuid.UUID, status: OrderStatus) -> None:
    await conn.execute(
        "INSERT INTO store.order_status_history (order_id, status) VALUES ($1, $2)",
        order_id,
        status.value,
    )


async def release_stock(conn: DbConn, order_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE store.products p SET stock_qty = p.stock_qty + i.quantity, updated_at = now()
             FROM store.order_items i WHERE i.order_id = $1 AND p.id = i.product_id""",
        order_id,
    )
    await conn.execute("UPDATE store.orders SET stock_reserved = false WHERE id = $1", order_id)
