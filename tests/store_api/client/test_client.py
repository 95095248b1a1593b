"""Every client method against the real Store API: happy paths and typed errors."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from store_api.client import (
    CustomerNotFound,
    DeliveryRequired,
    DeliveryUnavailable,
    IdempotencyKeyReused,
    InvalidPhone,
    OrderNotCancellable,
    OrderNotEditable,
    OrderNotFound,
    OutOfStock,
    PickupPointNotFound,
    ProductNotFound,
    SearchCriteriaRequired,
    StoreApiClient,
    StoreAuthError,
    StoreValidationError,
    TotalMismatch,
)
from store_api.client.breaker import BreakerState
from store_api.contract import (
    Address,
    CourierDeliveryIn,
    CreateOrder,
    CustomerRef,
    OrderItemIn,
    OrderStatus,
    PickupDeliveryIn,
)
from store_api.seed.personas import MANY_ACTIVE, NO_ACTIVE
from tests.store_api.client.helpers import MakeClient, draft_request, fresh_phone, in_stock, new_key

MOSCOW = CourierDeliveryIn(
    type="courier",
    address=Address(city="Москва", street="Тверская", house="7", apartment="12"),
)


# --- health and catalogue -----------------------------------------------------------------


async def test_health(client: StoreApiClient) -> None:
    health = await client.health()
    assert (health.status, health.db) == ("ok", "ok")


async def test_search_and_get_product(client: StoreApiClient) -> None:
    found = await client.search_products("гречка", limit=5)
    assert 1 <= len(found) <= 5
    assert any("реч" in item.name.lower() for item in found)

    product = await client.get_product(found[0].id)
    assert product.id == found[0].id
    assert product.name == found[0].name
    assert product.description and product.category


async def test_unknown_product(client: StoreApiClient) -> None:
    with pytest.raises(ProductNotFound) as raised:
        await client.get_product(str(uuid.uuid4()))
    assert raised.value.status == 404
    with pytest.raises(ProductNotFound):
        await client.get_product("not-a-uuid")


async def test_path_ids_cannot_escape_their_segment(client: StoreApiClient) -> None:
    # Without quoting, "x/../../health" would reach another endpoint.
    with pytest.raises(ProductNotFound):
        await client.get_product("x/../../health")
    with pytest.raises(ValueError, match="not a valid id"):
        await client.get_product("..")


async def test_search_query_too_short_is_a_validation_error(client: StoreApiClient) -> None:
    with pytest.raises(StoreValidationError):
        await client.search_products("г")


async def test_lookup_customer_normalises_the_phone(client: StoreApiClient) -> None:
    customer = await client.lookup_customer("8 (916) 123-45-67")
    assert customer.phone == MANY_ACTIVE.phone
    assert customer.name == MANY_ACTIVE.name


async def test_lookup_unknown_and_invalid_phone(client: StoreApiClient) -> None:
    with pytest.raises(CustomerNotFound) as raised:
        await client.lookup_customer(fresh_phone())
    assert raised.value.status == 404
    with pytest.raises(InvalidPhone) as invalid:
        await client.lookup_customer("12")
    assert invalid.value.status == 422


# --- order search and reading ---------------------------------------------------------


async def test_search_orders_by_phone_number_and_status(client: StoreApiClient) -> None:
    mine = await client.search_orders(phone=MANY_ACTIVE.phone, limit=20)
    numbers = [order.number for order in mine]
    for number in MANY_ACTIVE.orders:
        assert number in numbers
    assert [o.created_at for o in mine] == sorted((o.created_at for o in mine), reverse=True)

    one = await client.search_orders(phone=MANY_ACTIVE.phone, number=MANY_ACTIVE.active_orders[0])
    assert [o.number for o in one] == [MANY_ACTIVE.active_orders[0]]

    delivered = await client.search_orders(phone=MANY_ACTIVE.phone, status=OrderStatus.DELIVERED)
    assert delivered and all(o.status is OrderStatus.DELIVERED for o in delivered)

    with pytest.raises(SearchCriteriaRequired) as raised:
        await client.search_orders()
    assert raised.value.status == 400


async def test_get_order(client: StoreApiClient) -> None:
    [summary] = await client.search_orders(
        phone=MANY_ACTIVE.phone, number=MANY_ACTIVE.active_orders[0]
    )
    order = await client.get_order(summary.id)
    assert order.number == summary.number
    assert order.customer.phone == MANY_ACTIVE.phone
    assert order.status_text_ru == order.status.text_ru
    assert order.items and order.history

    with pytest.raises(OrderNotFound) as raised:
        await client.get_order(str(uuid.uuid4()))
    assert raised.value.status == 404
    assert raised.value.code == "ORDER_NOT_FOUND"


# --- the order lifecycle ----------------------------------------------------------------


async def test_create_order_and_replay_with_the_same_key(client: StoreApiClient) -> None:
    request = await draft_request(client, quantity=2)
    key = new_key()

    first = await client.create_order(request, idempotency_key=key)
    assert not first.replayed
    assert first.order.status is OrderStatus.DRAFT
    assert first.order.items[0].quantity == 2
    assert first.order.total == first.order.items_total == first.order.items[0].line_total
    assert first.order.customer.phone == request.customer.phone

    again = await client.create_order(request, idempotency_key=key)
    assert again.replayed
    assert again.order == first.order

    other = await client.create_order(request, idempotency_key=new_key())
    assert other.order.id != first.order.id

    changed = request.model_copy(update={"comment": "другое тело"})
    with pytest.raises(IdempotencyKeyReused) as raised:
        await client.create_order(changed, idempotency_key=key)
    assert raised.value.status == 422


async def test_concurrent_creates_with_one_key_make_one_order(
    make_client: MakeClient,
) -> None:
    """R6: whichever request wins, the others replay it (retrying through 409 IN_PROGRESS)."""
    client = make_client(attempts=10)
    request = await draft_request(client)
    key = new_key()
    results = await asyncio.gather(
        *(client.create_order(request, idempotency_key=key) for _ in range(6))
    )
    assert len({result.order.id for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1
    orders = await client.search_orders(phone=request.customer.phone)
    assert [o.id for o in orders] == [results[0].order.id]


async def test_create_order_errors(client: StoreApiClient) -> None:
    product = await in_stock(client, at_least=1)
    unknown = CreateOrder(
        customer=CustomerRef(phone=fresh_phone()),
        items=[OrderItemIn(product_id=str(uuid.uuid4()), quantity=1)],
    )
    with pytest.raises(ProductNotFound) as not_found:
        await client.create_order(unknown, idempotency_key=new_key())
    assert not_found.value.status == 422

    scarce = next(p for p in await client.search_products("молоко", limit=20) if p.stock_qty < 99)
    too_many = CreateOrder(
        customer=CustomerRef(phone=fresh_phone()),
        items=[OrderItemIn(product_id=scarce.id, quantity=99)],
    )
    key = new_key()
    with pytest.raises(OutOfStock) as out:
        await client.create_order(too_many, idempotency_key=key)
    assert out.value.status == 409
    assert out.value.available == scarce.stock_qty
    assert out.value.product_id == scarce.id
    assert not out.value.replayed
    # A business error is the request's stored answer too: the same key gets it again.
    with pytest.raises(OutOfStock) as again:
        await client.create_order(too_many, idempotency_key=key)
    assert again.value.replayed

    bad_phone = CreateOrder(
        customer=CustomerRef(phone="not a phone"),
        items=[OrderItemIn(product_id=product.id, quantity=1)],
    )
    with pytest.raises(InvalidPhone):
        await client.create_order(bad_phone, idempotency_key=new_key())

    with pytest.raises(ValueError, match="idempotency_key"):
        await client.create_order(bad_phone, idempotency_key="")


async def test_courier_delivery_confirm_and_replay(client: StoreApiClient) -> None:
    created = await client.create_order(await draft_request(client), idempotency_key=new_key())
    order_id = created.order.id

    with pytest.raises(DeliveryRequired):
        await client.confirm_order(
            order_id, expected_total=created.order.total, idempotency_key=new_key()
        )

    order = await client.set_delivery(order_id, MOSCOW)
    assert order.delivery is not None and order.delivery.type == "courier"
    assert order.total == order.items_total + order.delivery_cost
    assert order.estimated_date is not None
    # Setting the same delivery again is harmless: that is why the client may retry it.
    assert (await client.set_delivery(order_id, MOSCOW)).total == order.total

    with pytest.raises(TotalMismatch) as mismatch:
        await client.confirm_order(
            order_id, expected_total=order.total + 100, idempotency_key=new_key()
        )
    assert mismatch.value.new_total == order.total
    assert mismatch.value.expected_total == order.total + 100

    key = new_key()
    confirmed = await client.confirm_order(
        order_id, expected_total=order.total, idempotency_key=key
    )
    assert confirmed.order.status is OrderStatus.CONFIRMED
    assert not confirmed.replayed
    replay = await client.confirm_order(order_id, expected_total=order.total, idempotency_key=key)
    assert replay.replayed and replay.order == confirmed.order

    with pytest.raises(OrderNotEditable):
        await client.confirm_order(order_id, expected_total=order.total, idempotency_key=new_key())
    with pytest.raises(OrderNotEditable):
        await client.set_delivery(order_id, MOSCOW)

    cancelled = await client.cancel_order(order_id, reason="передумал", idempotency_key=new_key())
    assert cancelled.order.status is OrderStatus.CANCELLED


async def test_pickup_points_and_pickup_delivery(client: StoreApiClient) -> None:
    moscow = await client.pickup_points(city="Москва")
    assert moscow and all(point.city == "Москва" for point in moscow)
    tverskaya = await client.pickup_points(city="Москва", q="Тверская")
    assert tverskaya and "Тверск" in tverskaya[0].address

    created = await client.create_order(await draft_request(client), idempotency_key=new_key())
    order = await client.set_delivery(
        created.order.id, PickupDeliveryIn(type="pickup", pickup_point_id=tverskaya[0].id)
    )
    assert order.delivery is not None and order.delivery.type == "pickup"
    assert order.delivery.pickup_point.id == tverskaya[0].id

    with pytest.raises(PickupPointNotFound):
        await client.set_delivery(
            created.order.id, PickupDeliveryIn(type="pickup", pickup_point_id="nowhere-1")
        )
    far = CourierDeliveryIn(
        type="courier", address=Address(city="Нигдеград", street="Главная", house="1")
    )
    with pytest.raises(DeliveryUnavailable) as unavailable:
        await client.set_delivery(created.order.id, far)
    assert unavailable.value.reason == "city_not_served"
    with pytest.raises(OrderNotFound):
        await client.set_delivery(str(uuid.uuid4()), MOSCOW)


async def test_cancel_and_its_replay(client: StoreApiClient) -> None:
    created = await client.create_order(await draft_request(client), idempotency_key=new_key())
    key = new_key()
    first = await client.cancel_order(created.order.id, reason="ошибся", idempotency_key=key)
    assert first.order.status is OrderStatus.CANCELLED and not first.replayed
    again = await client.cancel_order(created.order.id, reason="ошибся", idempotency_key=key)
    assert again.replayed and again.order == first.order

    [delivered] = await client.search_orders(phone=NO_ACTIVE.phone, number=NO_ACTIVE.past_orders[1])
    assert delivered.status is OrderStatus.DELIVERED
    with pytest.raises(OrderNotCancellable):
        await client.cancel_order(delivered.id, reason=None, idempotency_key=new_key())


async def test_calculate_delivery(client: StoreApiClient) -> None:
    courier = await client.calculate_delivery(
        city="Москва", street="Тверская", house="7", items_total=10_000
    )
    assert courier.available and courier.cost is not None and courier.cost > 0
    free = await client.calculate_delivery(
        city="Москва", street="Тверская", house="7", items_total=100_000_000
    )
    assert free.available and free.cost == 0

    nowhere = await client.calculate_delivery(city="Нигдеград", street="Главная", house="1")
    assert not nowhere.available and nowhere.reason

    [point, *_] = await client.pickup_points(city="Москва")
    created = await client.create_order(await draft_request(client), idempotency_key=new_key())
    pickup = await client.calculate_delivery(pickup_point_id=point.id, order_id=created.order.id)
    assert pickup.available and pickup.estimated_date is not None

    with pytest.raises(TypeError):
        await client.calculate_delivery()  # type: ignore[call-overload]


# --- auth and request ids -----------------------------------------------------------------


async def test_wrong_token_is_an_auth_error_and_not_an_outage(make_client: MakeClient) -> None:
    client = make_client(token="wrong-token", threshold=1)
    for _ in range(3):
        with pytest.raises(StoreAuthError) as raised:
            await client.search_products("гречка")
        assert raised.value.status == 401
        assert not raised.value.retryable
    assert client.breaker.state is BreakerState.CLOSED
    # /health needs no token.
    assert (await client.health()).status == "ok"


async def test_request_id_is_sent_and_reported(client: StoreApiClient) -> None:
    with pytest.raises(OrderNotFound) as raised:
        await client.get_order(str(uuid.uuid4()), request_id="wf-123:activity-7")
    assert raised.value.request_id == "wf-123:activity-7"
    assert "request_id=wf-123:activity-7" in str(raised.value)

    created = await client.create_order(
        await draft_request(client), idempotency_key=new_key(), request_id="call/42 step 3"
    )
    # Characters servers would reject are replaced, so the id survives the round trip.
    assert created.request_id == "call-42-step-3"
