"""The demo data set itself, without a database: is it realistic and self-consistent?"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from pydantic import TypeAdapter

from store_api.contract import STORE_TZ, CourierDelivery, OrderStatus, PickupDelivery
from store_api.seed import (
    FOREIGN_ORDER_NUMBER,
    MANY_ACTIVE,
    NO_ACTIVE,
    NO_ORDERS,
    ONE_ACTIVE,
    OTHER,
    PERSONAS,
    low_stock_skus,
    out_of_stock_skus,
    product_id,
)
from store_api.seed.catalogue import CATEGORIES, by_name, products
from store_api.seed.delivery import PICKUP_POINTS, ZONES
from store_api.seed.items import shop_price
from store_api.seed.orders import COURIER_ROUTE, PICKUP_ROUTE, OrderSeed, build_orders
from store_api.seed.personas import CUSTOMERS

DELIVERY = TypeAdapter(CourierDelivery | PickupDelivery)
TODAYS = (dt.date(2026, 11, 27), dt.date(2028, 2, 29), dt.date(2027, 1, 1))


def orders_of(phone: str, today: dt.date = TODAYS[0]) -> list[OrderSeed]:
    return [o for o in build_orders(today) if o.customer_phone == phone]


def test_catalogue_is_large_varied_and_uniquely_keyed() -> None:
    catalogue = products()
    assert len(catalogue) >= 220
    per_category = Counter(p.category_id for p in catalogue)
    assert len(per_category) == len(CATEGORIES) >= 8
    assert min(per_category.values()) >= 8
    assert len({p.sku for p in catalogue}) == len({p.name for p in catalogue}) == len(catalogue)
    for product in catalogue:
        assert re.fullmatch(r"[A-Z]{2}-\d{4}", product.sku)
        assert product.id == product_id(product.sku)
        assert product.unit in {"шт", "кг", "уп", "л"}
        assert product.description and product.name == product.name.strip()
        assert 1000 <= product.price <= 300000 and product.price % 100 == 90
        assert 0 <= product.stock_qty <= 500


def test_similar_products_come_in_groups() -> None:
    names = [p.name for p in products()]
    assert sum(n.startswith("Гречка") for n in names) >= 5
    assert sum(n.startswith("Молоко") for n in names) >= 5
    assert sum(n.startswith("Кефир") for n in names) >= 3
    assert "Молоко 3,2% 1 л" in names and "Кофе молотый Арабика 250 г" in names


def test_stock_has_sold_out_and_nearly_sold_out_products() -> None:
    stock = {p.sku: p.stock_qty for p in products()}
    assert out_of_stock_skus() and all(stock[sku] == 0 for sku in out_of_stock_skus())
    assert low_stock_skus() and all(1 <= stock[sku] <= 3 for sku in low_stock_skus())
    regular = [q for q in stock.values() if q > 3]
    assert len(regular) >= 0.9 * len(stock) and min(regular) >= 5
    # A sold-out product still has an in-stock alternative of the same kind.
    buckwheat = [p for p in products() if p.name.startswith("Гречка ядрица")]
    assert any(p.stock_qty == 0 for p in buckwheat) and any(p.stock_qty > 5 for p in buckwheat)


def test_shop_prices_end_in_ninety_kopecks() -> None:
    assert shop_price(89.4) == 8990
    assert shop_price(99.6) == 9990
    assert shop_price(249) == 24990
    assert shop_price(2390) == 239990
    assert shop_price(0.2) == 90


def test_delivery_zones_and_pickup_points() -> None:
    assert {z.city for z in ZONES} == {"Москва", "Санкт-Петербург", "Казань", "Екатеринбург"}
    for zone in ZONES:
        assert zone.cost > 0 and zone.free_from and 1 <= zone.days <= 2
        assert zone.max_days_ahead == 14
    per_city = Counter(p.city for p in PICKUP_POINTS)
    assert per_city["Москва"] >= 5 and per_city["Санкт-Петербург"] >= 3
    assert per_city["Казань"] >= 2 and len(per_city) >= 3
    assert "Новосибирск" in per_city and "Новосибирск" not in {z.city for z in ZONES}
    assert len({p.id for p in PICKUP_POINTS}) == len(PICKUP_POINTS)
    for point in PICKUP_POINTS:
        assert re.fullmatch(r"[a-z]{3}(-[a-z0-9]+)+", point.id)
        assert 1 <= point.days <= 3 and point.hours
    near_tverskaya = [p for p in PICKUP_POINTS if "Тверск" in p.address]
    assert len(near_tverskaya) >= 2, "a spoken 'Тверская' must give the caller a choice"
    assert sum(p.cost == 0 for p in PICKUP_POINTS) > len(PICKUP_POINTS) / 2


def test_customers_have_e164_phones_and_russian_names() -> None:
    phones = [c.phone for c in CUSTOMERS]
    assert len(set(phones)) == len(phones)
    for customer in CUSTOMERS:
        assert re.fullmatch(r"\+79\d{9}", customer.phone)
        # +7999… is left free for numbers tests make up (tests/store_api/server/conftest.py).
        assert not customer.phone.startswith("+7999")
        assert customer.name is None or re.fullmatch(r"[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+", customer.name)


@pytest.mark.parametrize("today", TODAYS)
def test_orders_cover_every_status_with_consistent_money(today: dt.date) -> None:
    orders = build_orders(today)
    assert {o.status for o in orders} == set(OrderStatus)
    assert len({o.number for o in orders}) == len(orders)
    for order in orders:
        assert re.fullmatch(r"\d{6}", order.number) and int(order.number) < 100100
        assert order.items and order.total == order.items_total + order.delivery_cost
        assert order.items_total == sum(i.line_total for i in order.items)
        assert [i.position for i in order.items] == list(range(1, len(order.items) + 1))
        for line in order.items:
            product = by_name(line.name)
            assert (line.sku, line.product_id, line.unit_price) == (
                product.sku,
                product.id,
                product.price,
            )
            assert line.line_total == line.unit_price * line.quantity
            assert 1 <= line.quantity <= 99
        assert order.channel in {"voice", "web"}


@pytest.mark.parametrize("today", TODAYS)
def test_order_history_and_dates_follow_the_status(today: dt.date) -> None:
    start_of_today = dt.datetime.combine(today, dt.time(), STORE_TZ)
    customers_since = {
        c.phone: dt.datetime.combine(today - dt.timedelta(days=c.since_days), dt.time(12), STORE_TZ)
        for c in CUSTOMERS
    }
    for order in build_orders(today):
        statuses = [s for s, _ in order.history]
        times = [at for _, at in order.history]
        assert times == sorted(times) and times[-1] < start_of_today
        assert customers_since[order.customer_phone] <= order.created_at == times[0]
        assert order.updated_at == times[-1] and statuses[-1] == order.status
        route = (
            PICKUP_ROUTE
            if order.delivery and order.delivery["type"] == "pickup"
            else (COURIER_ROUTE)
        )
        if order.status is OrderStatus.CANCELLED:
            assert statuses[:-1] == list(route[: len(statuses) - 1])
            assert order.cancelled_at == times[-1] and order.cancel_reason
        else:
            assert statuses == list(route[: len(statuses)]) and order.cancelled_at is None
        confirmed = OrderStatus.CONFIRMED in statuses
        assert (order.confirmed_at is not None) == confirmed
        assert order.stock_reserved == order.status.is_active
        if order.status.is_active and order.status is not OrderStatus.READY_FOR_PICKUP:
            assert order.estimated_date is not None and order.estimated_date >= today
        if order.status in (OrderStatus.DRAFT, OrderStatus.CANCELLED):
            assert order.estimated_date is None


def test_delivery_is_stored_in_the_wire_shape() -> None:
    for order in build_orders(TODAYS[0]):
        if order.delivery is None:
            assert order.status in (OrderStatus.DRAFT, OrderStatus.CANCELLED)
            assert order.delivery_cost == 0
            continue
        parsed = DELIVERY.validate_python(order.delivery)
        assert parsed.model_dump(mode="json") == order.delivery
        if isinstance(parsed, CourierDelivery) and order.status is not OrderStatus.CANCELLED:
            assert parsed.date == order.estimated_date
    assert any(
        o.delivery and o.delivery_cost == 0 and o.delivery["type"] == "courier"
        for o in build_orders(TODAYS[0])
    ), "one order shows free delivery"


def test_personas_match_their_orders() -> None:
    for persona in PERSONAS:
        orders = orders_of(persona.phone)
        newest_first = sorted(orders, key=lambda o: o.created_at, reverse=True)
        active = [o.number for o in newest_first if o.status.is_active]
        past = [o.number for o in newest_first if not o.status.is_active]
        assert (tuple(active), tuple(past)) == (persona.active_orders, persona.past_orders)
        assert any(c.phone == persona.phone and c.name == persona.name for c in CUSTOMERS)


def test_personas_cover_the_dialog_scenarios() -> None:
    anna = orders_of(MANY_ACTIVE.phone)
    assert MANY_ACTIVE.name == "Анна Смирнова" and len(MANY_ACTIVE.active_orders) == 3
    assert {o.status for o in anna if o.status.is_active} == {
        OrderStatus.SHIPPED,
        OrderStatus.ASSEMBLING,
        OrderStatus.READY_FOR_PICKUP,
    }
    assert OrderStatus.DELIVERED in {o.status for o in anna}
    (only,) = orders_of(ONE_ACTIVE.phone)
    assert only.status is OrderStatus.SHIPPED and only.estimated_date is not None
    assert not NO_ACTIVE.active_orders and len(orders_of(NO_ACTIVE.phone)) >= 2
    assert orders_of(NO_ORDERS.phone) == []
    assert FOREIGN_ORDER_NUMBER in OTHER.active_orders
    assert FOREIGN_ORDER_NUMBER not in MANY_ACTIVE.orders
    assert len({p.phone for p in PERSONAS}) == len(PERSONAS)
