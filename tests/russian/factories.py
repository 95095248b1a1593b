"""Orders built from the contract models, as the Store API would send them."""

from __future__ import annotations

import datetime as dt
import zlib

from store_api.contract import (
    AddressOut,
    CourierDelivery,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    OrderSummary,
    PickupDelivery,
    PickupPoint,
)

CREATED = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 27)  # a Friday


def item(name: str, quantity: int = 1, unit_price: int = 10990, product_id: str = "") -> OrderItem:
    return OrderItem(
        product_id=product_id or f"p-{zlib.crc32(name.encode()):08x}",
        sku="GR-0001",
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        line_total=unit_price * quantity,
    )


def courier(
    street: str = "ул. Тверская",
    house: str = "7",
    apartment: str | None = "12",
    city: str = "Москва",
    date: dt.date = TODAY + dt.timedelta(days=1),
) -> CourierDelivery:
    return CourierDelivery(
        type="courier",
        address=AddressOut(city=city, street=street, house=house, apartment=apartment),
        date=date,
    )


def pickup(
    name: str = "Пункт выдачи на Тверской",
    address: str = "ул. Тверская, 7",
    city: str = "Москва",
) -> PickupDelivery:
    return PickupDelivery(
        type="pickup",
        pickup_point=PickupPoint(
            id="msk-tverskaya-7", name=name, city=city, address=address, hours="ежедневно"
        ),
    )


def order(
    items: list[OrderItem],
    delivery: CourierDelivery | PickupDelivery | None,
    *,
    delivery_cost: int = 0,
    number: str = "100245",
    status: OrderStatus = OrderStatus.DRAFT,
    estimated_date: dt.date | None = None,
    customer_name: str | None = "Анна Петрова",
    phone: str = "+79161234567",
) -> Order:
    items_total = sum(i.line_total for i in items)
    if estimated_date is None and isinstance(delivery, CourierDelivery):
        estimated_date = delivery.date
    return Order(
        id="0d9c2f7e-0000-4000-8000-000000000001",
        number=number,
        status=status,
        status_text_ru=status.text_ru,
        customer=Customer(id="c-1", phone=phone, name=customer_name),
        items=items,
        items_total=items_total,
        delivery_cost=delivery_cost,
        total=items_total + delivery_cost,
        delivery=delivery,
        estimated_date=estimated_date,
        channel="voice",
        call_id="call-1",
        comment=None,
        created_at=CREATED,
        updated_at=CREATED,
        confirmed_at=None,
        cancelled_at=None,
        history=[],
    )


def summary(
    number: str = "100245",
    status: OrderStatus = OrderStatus.SHIPPED,
    estimated_date: dt.date | None = TODAY + dt.timedelta(days=1),
    total: int = 259900,
) -> OrderSummary:
    return OrderSummary(
        id=f"id-{number}",
        number=number,
        status=status,
        status_text_ru=status.text_ru,
        total=total,
        items_count=3,
        created_at=CREATED,
        estimated_date=estimated_date,
    )
