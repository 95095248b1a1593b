"""Turn the order book into rows: items priced from the catalogue, delivery in the wire
shape, status history, timestamps and dates relative to `today`.

Everything the Store API would have computed (line totals, delivery cost by zone and
free-delivery threshold, the reservation flag) is computed here by the same rules, so seeded
orders are indistinguishable from orders placed through the API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from store_api.contract import (
    STORE_TZ,
    AddressOut,
    CourierDelivery,
    OrderStatus,
    PickupDelivery,
)
from store_api.seed import catalogue, delivery
from store_api.seed.ids import order_id
from store_api.seed.order_book import ORDERS, Courier, OrderSpec, Pickup

S = OrderStatus

COURIER_ROUTE = (S.DRAFT, S.CONFIRMED, S.ASSEMBLING, S.SHIPPED, S.DELIVERED)
PICKUP_ROUTE = (S.DRAFT, S.CONFIRMED, S.ASSEMBLING, S.SHIPPED, S.READY_FOR_PICKUP, S.DELIVERED)

# When each step happens, counted from the moment the order was created.
_STEP_AFTER_CREATION: dict[OrderStatus, dt.timedelta] = {
    S.DRAFT: dt.timedelta(0),
    S.CONFIRMED: dt.timedelta(minutes=6),
    S.ASSEMBLING: dt.timedelta(hours=2),
    S.SHIPPED: dt.timedelta(hours=22),
    S.READY_FOR_PICKUP: dt.timedelta(hours=30),
    S.DELIVERED: dt.timedelta(hours=46),
}
_CANCEL_AFTER_LAST_STEP = dt.timedelta(minutes=40)
_ON_THE_WAY = (S.CONFIRMED, S.ASSEMBLING, S.SHIPPED)
_RESERVED = (S.CONFIRMED, S.ASSEMBLING, S.SHIPPED, S.READY_FOR_PICKUP)


@dataclass(frozen=True, slots=True)
class OrderItemSeed:
    position: int
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int


@dataclass(frozen=True, slots=True)
class OrderSeed:
    id: uuid.UUID
    number: str
    status: OrderStatus
    customer_phone: str
    items: tuple[OrderItemSeed, ...]
    items_total: int
    delivery_cost: int
    total: int
    delivery: dict[str, Any] | None  # exactly contract.CourierDelivery / PickupDelivery JSON
    estimated_date: dt.date | None
    channel: str
    comment: str | None
    stock_reserved: bool
    cancel_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    history: tuple[tuple[OrderStatus, dt.datetime], ...]


def build_orders(today: dt.date) -> tuple[OrderSeed, ...]:
    return tuple(build_order(spec, today) for spec in ORDERS)


def build_order(spec: OrderSpec, today: dt.date) -> OrderSeed:
    items = _items(spec)
    items_total = sum(line.line_total for line in items)
    history = _history(spec, today)
    reached = dict(history)
    wire, cost = _delivery(spec, items_total, reached, today)
    return OrderSeed(
        id=order_id(spec.number),
        number=spec.number,
        status=spec.status,
        customer_phone=spec.phone,
        items=items,
        items_total=items_total,
        delivery_cost=cost,
        total=items_total + cost,
        delivery=wire,
        estimated_date=_estimated_date(spec, reached, today),
        channel=spec.channel,
        comment=spec.comment,
        stock_reserved=spec.status in _RESERVED,
        cancel_reason=spec.cancel_reason,
        created_at=history[0][1],
        updated_at=history[-1][1],
        confirmed_at=reached.get(S.CONFIRMED),
        cancelled_at=reached.get(S.CANCELLED),
        history=history,
    )


def _items(spec: OrderSpec) -> tuple[OrderItemSeed, ...]:
    items = []
    for position, (name, quantity) in enumerate(spec.lines, start=1):
        product = catalogue.by_name(name)
        items.append(
            OrderItemSeed(
                position=position,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                quantity=quantity,
                unit_price=product.price,
                line_total=product.price * quantity,
            )
        )
    return tuple(items)


def _route(spec: OrderSpec) -> tuple[OrderStatus, ...]:
    # An order without delivery can only have been a draft (or a draft that was cancelled).
    full = PICKUP_ROUTE if isinstance(spec.delivery, Pickup) else COURIER_ROUTE
    last = spec.cancelled_from if spec.status is S.CANCELLED else spec.status
    if last not in full or (spec.delivery is None and last is not S.DRAFT):
        raise ValueError(f"order {spec.number}: {spec.status} does not fit its delivery")
    return full[: full.index(last) + 1]


def _history(spec: OrderSpec, today: dt.date) -> tuple[tuple[OrderStatus, dt.datetime], ...]:
    days_ago, clock = spec.created
    created = dt.datetime.combine(
        today - dt.timedelta(days=days_ago), dt.time.fromisoformat(clock), STORE_TZ
    )
    steps = [(status, created + _STEP_AFTER_CREATION[status]) for status in _route(spec)]
    if spec.status is S.CANCELLED:
        steps.append((S.CANCELLED, steps[-1][1] + _CANCEL_AFTER_LAST_STEP))
    # Seeded history is the past: nothing may happen on or after the day the seed is loaded.
    start_of_today = dt.datetime.combine(today, dt.time(), STORE_TZ)
    if steps[-1][1] >= start_of_today:
        raise ValueError(f"order {spec.number}: its history reaches into today")
    return tuple(steps)


def _delivery(
    spec: OrderSpec,
    items_total: int,
    reached: dict[OrderStatus, dt.datetime],
    today: dt.date,
) -> tuple[dict[str, Any] | None, int]:
    """The delivery as the API returns it, and its cost."""
    if isinstance(spec.delivery, Pickup):
        point = delivery.pickup_point(spec.delivery.point_id)
        wire = PickupDelivery(type="pickup", pickup_point=point.wire())
        return wire.model_dump(mode="json"), point.cost
    if isinstance(spec.delivery, Courier):
        zone = delivery.zone(spec.delivery.city)
        address = AddressOut(
            city=spec.delivery.city,
            street=spec.delivery.street,
            house=spec.delivery.house,
            apartment=spec.delivery.apartment,
            comment=spec.delivery.comment,
        )
        date = _courier_date(spec, zone.days, reached, today)
        courier = CourierDelivery(type="courier", address=address, date=date)
        return courier.model_dump(mode="json"), zone.cost_for(items_total)
    return None, 0


def _courier_date(
    spec: OrderSpec, zone_days: int, reached: dict[OrderStatus, dt.datetime], today: dt.date
) -> dt.date:
    if S.DELIVERED in reached:
        return reached[S.DELIVERED].date()
    if spec.status in _ON_THE_WAY:
        return _arrival(spec, today)
    # Cancelled before it went out: the earliest date the zone offered when it was placed.
    return reached[S.DRAFT].date() + dt.timedelta(days=zone_days)


def _arrival(spec: OrderSpec, today: dt.date) -> dt.date:
    if spec.arrives_in_days is None or spec.arrives_in_days < 0:
        raise ValueError(f"order {spec.number}: an order on its way needs arrives_in_days >= 0")
    return today + dt.timedelta(days=spec.arrives_in_days)


def _estimated_date(
    spec: OrderSpec, reached: dict[OrderStatus, dt.datetime], today: dt.date
) -> dt.date | None:
    if spec.status in _ON_THE_WAY:
        return _arrival(spec, today)
    if spec.status is S.READY_FOR_PICKUP:
        return reached[S.READY_FOR_PICKUP].date()
    if spec.status is S.DELIVERED:
        return reached[S.DELIVERED].date()
    # Drafts have no date yet; for a cancelled order a date would only mislead the agent.
    return None
