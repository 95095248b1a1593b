"""Delivery rules: which cities get a courier, what it costs, when it can come."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.db import DbConn
from store_api.contract import (
    AddressOut,
    CourierDelivery,
    CourierDeliveryIn,
    ErrorCode,
    PickupDelivery,
    PickupPoint,
)
from store_api.server.errors import ApiError

_CITY_PREFIX = re.compile(r"^(г\.|гор\.|город)\s*", re.IGNORECASE)


def normalise_city(city: str) -> str:
    """'г. Москва', 'москва ' and 'МОСКВА' name one city."""
    text = _CITY_PREFIX.sub("", city.strip()).strip()
    return text.lower().replace("ё", "е")


@dataclass(frozen=True, slots=True)
class Zone:
    city: str
    zone: str
    cost: int
    free_from: int | None
    days: int
    max_days_ahead: int

    def cost_for(self, items_total: int) -> int:
        if self.free_from is not None and items_total >= self.free_from:
            return 0
        return self.cost

    def earliest(self, today: dt.date) -> dt.date:
        return today + dt.timedelta(days=self.days)

    def latest(self, today: dt.date) -> dt.date:
        return self.earliest(today) + dt.timedelta(days=self.max_days_ahead)


@dataclass(frozen=True, slots=True)
class PickupPointRow:
    point: PickupPoint
    cost: int
    days: int

    def ready_on(self, today: dt.date) -> dt.date:
        return today + dt.timedelta(days=self.days)


async def find_zone(conn: DbConn | asyncpg.Pool, city: str) -> Zone | None:
    row = await conn.fetchrow(
        """SELECT city, zone, cost, free_from, days, max_days_ahead FROM store.delivery_zones
            WHERE store.search_norm(city) = $1""",
        normalise_city(city),
    )
    return Zone(**dict(row)) if row else None


async def served_cities(conn: DbConn | asyncpg.Pool) -> list[str]:
    return [
        r["city"] for r in await conn.fetch("SELECT city FROM store.delivery_zones ORDER BY city")
    ]


async def find_pickup_point(conn: DbConn | asyncpg.Pool, point_id: str) -> PickupPointRow | None:
    row = await conn.fetchrow(
        "SELECT id, name, city, address, hours, cost, days FROM store.pickup_points WHERE id = $1",
        point_id,
    )
    if row is None:
        return None
    return PickupPointRow(
        point=PickupPoint(
            id=row["id"],
            name=row["name"],
            city=row["city"],
            address=row["address"],
            hours=row["hours"],
        ),
        cost=row["cost"],
        days=row["days"],
    )


async def require_zone(conn: DbConn | asyncpg.Pool, city: str) -> Zone:
    zone = await find_zone(conn, city)
    if zone is None:
        raise ApiError(
            ErrorCode.DELIVERY_UNAVAILABLE,
            f"No courier delivery to {city}.",
            {"reason": "city_not_served", "city": city, "served_cities": await served_cities(conn)},
        )
    return zone


async def require_pickup_point(conn: DbConn | asyncpg.Pool, point_id: str) -> PickupPointRow:
    point = await find_pickup_point(conn, point_id)
    if point is None:
        raise ApiError(
            ErrorCode.PICKUP_POINT_NOT_FOUND,
            f"No pickup point with id {point_id!r}.",
            {"pickup_point_id": point_id},
        )
    return point


def courier_delivery(request: CourierDeliveryIn, zone: Zone, today: dt.date) -> CourierDelivery:
    earliest, latest = zone.earliest(today), zone.latest(today)
    date = request.date or earliest
    if not earliest <= date <= latest:
        raise ApiError(
            ErrorCode.DELIVERY_UNAVAILABLE,
            f"A courier can come between {earliest.isoformat()} and {latest.isoformat()}.",
            {
                "reason": "date_unavailable",
                "earliest": earliest.isoformat(),
                "latest": latest.isoformat(),
            },
        )
    address = AddressOut(**request.address.model_dump())
    return CourierDelivery(type="courier", address=address, date=date)


def pickup_delivery(point: PickupPointRow) -> PickupDelivery:
    return PickupDelivery(type="pickup", pickup_point=point.point)


async def delivery_cost_of(conn: DbConn, delivery: dict[str, Any], items_total: int) -> int:
    """The cost of a stored delivery for a (possibly repriced) items total."""
    if delivery["type"] == "courier":
        zone = await require_zone(conn, delivery["address"]["city"])
        return zone.cost_for(items_total)
    point = await require_pickup_point(conn, delivery["pickup_point"]["id"])
    return point.cost
