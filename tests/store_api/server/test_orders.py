"""The order life cycle: draft → delivery → confirm → cancel, with every documented error."""

from __future__ import annotations

import json

import httpx

from tests.store_api.server.conftest import (
    COURIER_MOSCOW,
    fresh_phone,
    in_stock_product,
    new_draft,
    new_key,
)
from tests.support.servers import StoreApiServer


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_create_draft_prices_from_catalogue(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "гречка")
    phone = fresh_phone()
    response = await api.post(
        "/orders",
        headers=new_key(),
        json={
            "customer": {"phone": phone, "name": "Тест"},
            "items": [{"product_id": product["id"], "quantity": 2}],
            "channel": "voice",
            "call_id": "call-abc",
            "comment": "домофон не работает",
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "draft" and order["status_text_ru"] == "оформляется"
    assert order["number"].isdigit()
    assert order["items"][0]["unit_price"] == product["price"]
    assert order["items_total"] == order["total"] == 2 * product["price"]
    assert order["customer"]["phone"] == phone and order["delivery"] is None
    assert order["call_id"] == "call-abc" and order["history"][0]["status"] == "draft"
    assert order["created_at"].endswith("+03:00")
    fetched = await api.get(f"/orders/{order['id']}")
    assert fetched.json() == order


async def test_create_draft_errors(api: httpx.AsyncClient, store_api: StoreApiServer) -> None:
    product = await in_stock_product(api, "гречка")
    good = {
        "customer": {"phone": fresh_phone()},
        "items": [{"product_id": product["id"], "quantity": 1}],
    }

    no_key = await api.post("/orders", json=good)
    assert no_key.status_code == 400 and error_code(no_key) == "IDEMPOTENCY_KEY_REQUIRED"

    bad_key = await api.post("/orders", json=good, headers={"Idempotency-Key": "has space"})
    assert bad_key.status_code == 400 and error_code(bad_key) == "IDEMPOTENCY_KEY_INVALID"

    unknown = await api.post(
        "/orders",
        headers=new_key(),
        json={
            **good,
            "items": [{"product_id": "00000000-0000-0000-0000-000000000000", "quantity": 1}],
        },
    )
    assert unknown.status_code == 422 and error_code(unknown) == "PRODUCT_NOT_FOUND"

    too_many = await api.post(
        "/orders",
        headers=new_key(),
        json={
            **good,
            "items": [{"product_id": product["id"], "quantity": product["stock_qty"] + 1}],
        }
        if product["stock_qty"] < 99
        else good,
    )
    if product["stock_qty"] < 99:
        assert too_many.status_code == 409 and error_code(too_many) == "OUT_OF_STOCK"
        assert too_many.json()["error"]["details"]["available"] == product["stock_qty"]

    cases = [
        ({**good, "customer": {"phone": "not a phone"}}, 422, "INVALID_PHONE"),
        ({**good, "extra": 1}, 422, "VALIDATION_ERROR"),
        ({**good, "items": []}, 422, "VALIDATION_ERROR"),
        (
            {**good, "items": [{"product_id": product["id"], "quantity": 100}]},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {**good, "items": [{"product_id": product["id"], "quantity": "1"}]},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {**good, "items": [{"product_id": product["id"], "quantity": 1.5}]},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {**good, "items": [{"product_id": product["id"], "quantity": True}]},
            422,
            "VALIDATION_ERROR",
        ),
    ]
    for body, status, code in cases:
        response = await api.post("/orders", headers=new_key(), json=body)
        assert response.status_code == status and error_code(response) == code, (
            body,
            response.text,
        )

    malformed = await api.post(
        "/orders", headers={**new_key(), "Content-Type": "application/json"}, content=b"{nope"
    )
    assert malformed.status_code == 400 and error_code(malformed) == "MALFORMED_REQUEST"

    huge = await api.post("/orders", headers=new_key(), json={**good, "comment": "x" * 70_000})
    assert huge.status_code == 413 and error_code(huge) == "PAYLOAD_TOO_LARGE"

    as_text = await api.post(
        "/orders", headers={**new_key(), "Content-Type": "text/plain"}, content=json.dumps(good)
    )
    assert as_text.status_code == 415 and error_code(as_text) == "UNSUPPORTED_MEDIA_TYPE"


async def test_integral_float_counts_as_integer(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "гречка")
    response = await api.post(
        "/orders",
        headers=new_key(),
        json={
            "customer": {"phone": fresh_phone()},
            "items": [{"product_id": product["id"], "quantity": 2.0}],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["quantity"] == 2


async def test_courier_and_pickup_delivery(api: httpx.AsyncClient) -> None:
    draft = await new_draft(api)
    courier = await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    assert courier.status_code == 200, courier.text
    order = courier.json()
    assert order["delivery"]["type"] == "courier"
    assert order["delivery"]["address"]["street"] == "Тверская"
    assert (
        order["delivery_cost"] > 0
        and order["total"] == order["items_total"] + order["delivery_cost"]
    )
    assert order["estimated_date"] == order["delivery"]["date"]

    point = (await api.get("/pickup-points", params={"city": "Москва"})).json()["items"][0]
    pickup = await api.patch(
        f"/orders/{draft['id']}/delivery", json={"type": "pickup", "pickup_point_id": point["id"]}
    )
    assert pickup.status_code == 200, pickup.text
    assert pickup.json()["delivery"] == {"type": "pickup", "pickup_point": point}

    errors = [
        (
            {**COURIER_MOSCOW, "address": {**COURIER_MOSCOW["address"], "city": "Урюпинск"}},
            422,
            "DELIVERY_UNAVAILABLE",
        ),
        ({**COURIER_MOSCOW, "date": "2020-01-01"}, 422, "DELIVERY_UNAVAILABLE"),
        ({"type": "pickup", "pickup_point_id": "nowhere"}, 422, "PICKUP_POINT_NOT_FOUND"),
        ({"type": "drone"}, 422, "VALIDATION_ERROR"),
        ({"type": "courier"}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in errors:
        response = await api.patch(f"/orders/{draft['id']}/delivery", json=body)
        assert response.status_code == status and error_code(response) == code, (
            body,
            response.text,
        )
    missing = await api.patch(
        "/orders/00000000-0000-0000-0000-000000000000/delivery", json=COURIER_MOSCOW
    )
    assert missing.status_code == 404 and error_code(missing) == "ORDER_NOT_FOUND"


async def test_confirm_reserves_stock_and_cancel_releases_it(api: httpx.AsyncClient) -> None:
    draft = await new_draft(api, quantity=3, query="молоко")
    product_id = draft["items"][0]["product_id"]
    stock_before = (await api.get(f"/products/{product_id}")).json()["stock_qty"]

    no_delivery = await api.post(f"/orders/{draft['id']}/confirm", headers=new_key(), json={})
    assert no_delivery.status_code == 409 and error_code(no_delivery) == "DELIVERY_REQUIRED"

    with_delivery = (await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)).json()
    stale = await api.post(
        f"/orders/{draft['id']}/confirm", headers=new_key(), json={"expected_total": 1}
    )
    assert stale.status_code == 409 and error_code(stale) == "TOTAL_MISMATCH"
    assert stale.json()["error"]["details"]["total"] == with_delivery["total"]

    key = new_key()
    confirmed = await api.post(
        f"/orders/{draft['id']}/confirm",
        headers=key,
        json={"expected_total": with_delivery["total"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    order = confirmed.json()
    assert order["status"] == "confirmed" and order["confirmed_at"]
    assert [h["status"] for h in order["history"]] == ["draft", "confirmed"]
    stock_after = (await api.get(f"/products/{product_id}")).json()["stock_qty"]
    assert stock_after == stock_before - 3

    again = await api.post(f"/orders/{draft['id']}/confirm", headers=new_key(), json={})
    assert again.status_code == 409 and error_code(again) == "ORDER_NOT_EDITABLE"
    edit = await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    assert edit.status_code == 409 and error_code(edit) == "ORDER_NOT_EDITABLE"

    cancelled = await api.post(
        f"/orders/{draft['id']}/cancel", headers=new_key(), json={"reason": "передумал"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelled_at"]
    assert (await api.get(f"/products/{product_id}")).json()["stock_qty"] == stock_before

    twice = await api.post(f"/orders/{draft['id']}/cancel", headers=new_key(), json={})
    assert twice.status_code == 409 and error_code(twice) == "ORDER_NOT_CANCELLABLE"


async def test_shipped_order_cannot_be_cancelled(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    draft = await new_draft(api)
    await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    await api.post(f"/orders/{draft['id']}/confirm", headers=new_key(), json={})
    await store_api.set_order_status(draft["id"], "assembling")
    shipped = await store_api.set_order_status(draft["id"], "shipped")
    assert shipped["status_text_ru"] == "передан в доставку"
    response = await api.post(f"/orders/{draft['id']}/cancel", headers=new_key(), json={})
    assert response.status_code == 409 and error_code(response) == "ORDER_NOT_CANCELLABLE"


async def test_confirm_rejects_a_sold_out_item(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    draft = await new_draft(api, quantity=2, query="кофе")
    await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)
    await store_api.set_product(draft["items"][0]["product_id"], stock_qty=1)
    response = await api.post(f"/orders/{draft['id']}/confirm", headers=new_key(), json={})
    assert response.status_code == 409 and error_code(response) == "OUT_OF_STOCK"
    assert response.json()["error"]["details"]["available"] == 1
    assert (await api.get(f"/orders/{draft['id']}")).json()["status"] == "draft"
    await store_api.set_product(draft["items"][0]["product_id"], stock_qty=50)


async def test_price_change_before_confirmation_is_a_total_mismatch(
    api: httpx.AsyncClient, store_api: StoreApiServer
) -> None:
    draft = await new_draft(api, quantity=1, query="чай")
    heard = (await api.patch(f"/orders/{draft['id']}/delivery", json=COURIER_MOSCOW)).json()
    item = heard["items"][0]
    await store_api.set_product(item["product_id"], price=item["unit_price"] + 10000)
    try:
        response = await api.post(
            f"/orders/{draft['id']}/confirm",
            headers=new_key(),
            json={"expected_total": heard["total"]},
        )
        assert response.status_code == 409 and error_code(response) == "TOTAL_MISMATCH"
        new_total = response.json()["error"]["details"]["total"]
        assert new_total == heard["total"] + 10000 or new_total > heard["total"]
        repriced = (await api.get(f"/orders/{draft['id']}")).json()
        assert repriced["total"] == new_total and repriced["status"] == "draft"
        ok = await api.post(
            f"/orders/{draft['id']}/confirm", headers=new_key(), json={"expected_total": new_total}
        )
        assert ok.status_code == 200 and ok.json()["total"] == new_total
    finally:
        await store_api.set_product(item["product_id"], price=item["unit_price"])


async def test_order_search(api: httpx.AsyncClient) -> None:
    phone = fresh_phone()
    first = await new_draft(api, phone=phone)
    second = await new_draft(api, phone=phone)
    by_phone = await api.get("/orders/search", params={"phone": phone.replace("+7", "8")})
    assert by_phone.status_code == 200
    items = by_phone.json()["items"]
    assert [o["id"] for o in items] == [second["id"], first["id"]], "newest first"
    assert set(items[0]) == {
        "id",
        "number",
        "status",
        "status_text_ru",
        "total",
        "currency",
        "items_count",
        "created_at",
        "estimated_date",
    }
    by_number = await api.get("/orders/search", params={"number": first["number"]})
    assert [o["id"] for o in by_number.json()["items"]] == [first["id"]]
    both = await api.get(
        "/orders/search", params={"number": first["number"], "phone": "+79160000009"}
    )
    assert both.json()["items"] == [], "a number of another customer finds nothing"
    drafts = await api.get("/orders/search", params={"phone": phone, "status": "confirmed"})
    assert drafts.json()["items"] == []
    assert (await api.get("/orders/search")).status_code == 400
    assert error_code(await api.get("/orders/search")) == "SEARCH_CRITERIA_REQUIRED"
    bad_status = await api.get("/orders/search", params={"phone": phone, "status": "lost"})
    assert bad_status.status_code == 422
    assert (await api.get("/orders/search", params={"phone": "xx"})).status_code == 422
    missing = await api.get("/orders/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and error_code(missing) == "ORDER_NOT_FOUND"
