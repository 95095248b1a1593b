"""Products, customers, pickup points and delivery quotes against the seeded demo data."""

from __future__ import annotations

import httpx

from tests.store_api.server.conftest import in_stock_product


async def test_russian_search_finds_word_forms_and_typos(api: httpx.AsyncClient) -> None:
    for query in ("гречка", "гречку", "гречки ядрица", "гричка"):
        response = await api.get("/products/search", params={"q": query})
        assert response.status_code == 200, response.text
        names = [item["name"].lower() for item in response.json()["items"]]
        assert names and "греч" in names[0], (query, names)
    item = response.json()["items"][0]
    assert set(item) == {"id", "sku", "name", "price", "currency", "stock_qty", "unit"}
    assert item["currency"] == "RUB" and isinstance(item["price"], int)


async def test_search_validates_query_and_limit(api: httpx.AsyncClient) -> None:
    for params in ({"q": "г"}, {}, {"q": "гречка", "limit": "21"}, {"q": "гречка", "limit": "x"}):
        response = await api.get("/products/search", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    limited = await api.get("/products/search", params={"q": "молоко", "limit": 2})
    assert len(limited.json()["items"]) == 2


async def test_get_product_and_not_found(api: httpx.AsyncClient) -> None:
    product = await in_stock_product(api, "молоко")
    response = await api.get(f"/products/{product['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == product["id"] and body["description"] and body["category"]
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await api.get(f"/products/{missing}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "PRODUCT_NOT_FOUND"


async def test_customer_lookup_normalises_phone_formats(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/orders",
        headers={"Idempotency-Key": "lookup-formats-customer"},
        json={
            "customer": {"phone": "+7 (916) 555-12-34", "name": "Проверка Форматов"},
            "items": [{"product_id": (await in_stock_product(api, "соль"))["id"], "quantity": 1}],
        },
    )
    assert created.status_code == 201, created.text
    ids = set()
    for phone in ("8 916 555-12-34", "+7 (916) 555 12 34", "79165551234", "+79165551234"):
        response = await api.get("/customers/lookup", params={"phone": phone})
        assert response.status_code == 200, (phone, response.text)
        assert response.json()["phone"] == "+79165551234"
        ids.add(response.json()["id"])
    assert len(ids) == 1


async def test_customer_lookup_errors(api: httpx.AsyncClient) -> None:
    unknown = await api.get("/customers/lookup", params={"phone": "+7 916 000-00-01"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "CUSTOMER_NOT_FOUND"
    for bad in ("12", "hello", "+7916"):
        invalid = await api.get("/customers/lookup", params={"phone": bad})
        assert invalid.status_code == 422, bad
        assert invalid.json()["error"]["code"] == "INVALID_PHONE"


async def test_pickup_points_by_city_and_query(api: httpx.AsyncClient) -> None:
    moscow = await api.get("/pickup-points", params={"city": "москва"})
    assert moscow.status_code == 200
    points = moscow.json()["items"]
    assert len(points) >= 3 and all(p["city"] == "Москва" for p in points)
    assert set(points[0]) == {"id", "name", "city", "address", "hours"}
    tverskaya = await api.get("/pickup-points", params={"city": "Москва", "q": "тверская"})
    assert tverskaya.json()["items"], "a spoken street name finds its pickup point"
    cities = {p["city"] for p in (await api.get("/pickup-points")).json()["items"]}
    assert len(cities) >= 3


async def test_delivery_quotes(api: httpx.AsyncClient) -> None:
    cheap = await api.get(
        "/delivery/calculate",
        params={"city": "Москва", "street": "Тверская", "house": "7", "items_total": 100000},
    )
    assert cheap.status_code == 200, cheap.text
    quote = cheap.json()
    assert quote["available"] is True and quote["cost"] > 0 and quote["estimated_date"]
    free = await api.get(
        "/delivery/calculate", params={"city": "Москва", "items_total": quote["free_from"]}
    )
    assert free.json()["cost"] == 0, "delivery is free above the threshold"
    nowhere = await api.get("/delivery/calculate", params={"city": "Урюпинск"})
    assert nowhere.status_code == 200 and nowhere.json()["available"] is False
    point = (await api.get("/pickup-points", params={"city": "Москва"})).json()["items"][0]
    pickup = await api.get("/delivery/calculate", params={"pickup_point_id": point["id"]})
    assert pickup.json()["available"] is True and pickup.json()["cost"] >= 0
    missing = await api.get("/delivery/calculate")
    assert missing.status_code == 422
    unknown_point = await api.get("/delivery/calculate", params={"pickup_point_id": "nope"})
    assert unknown_point.status_code == 422
    assert unknown_point.json()["error"]["code"] == "PICKUP_POINT_NOT_FOUND"
