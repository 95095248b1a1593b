"""Health, products, customers, pickup points and delivery quotes."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from store_api.contract import (
    SEARCH_LIMIT_MAX,
    Customer,
    DeliveryQuote,
    ErrorCode,
    Health,
    PickupPoint,
    PickupPointList,
    Product,
    ProductList,
    ProductSummary,
)
from store_api.server import delivery as rules
from store_api.server.errors import ApiError
from store_api.server.requests import json_response, path_uuid, query_int, query_str
from store_api.server.routes.orders import order_not_found, phone_or_422
from store_api.server.state import state_of

routes = web.RouteTableDef()

# Trigram word similarity from which a product name counts as a fuzzy match ("гречу" → гречка).
# The query's `<%` reads it from the session (app.SESSION_SETTINGS), which lets the trigram
# index answer instead of a similarity computed for every product.
FUZZY_THRESHOLD = 0.35


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    try:
        async with state_of(request).pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return json_response(Health(status="degraded", db="unavailable"), status=503)
    return json_response(Health(status="ok", db="ok"))


@routes.get("/api/v1/products/search")
async def search_products(request: web.Request) -> web.Response:
    query = query_str(request, "q", required=True, min_length=2, max_length=100)
    limit = query_int(request, "limit", default=10, minimum=1, maximum=SEARCH_LIMIT_MAX)
    rows = await state_of(request).pool.fetch(
        """WITH q AS (SELECT store.search_norm($1) AS text,
                             plainto_tsquery('russian', store.search_norm($1)) AS ts)
           SELECT p.id, p.sku, p.name, p.price, p.stock_qty, p.unit
             FROM store.products p, q
            WHERE p.search_tsv @@ q.ts OR q.text <% p.search_name
            ORDER BY (p.search_tsv @@ q.ts) DESC,
                     ts_rank(p.search_tsv, q.ts) + word_similarity(q.text, p.search_name) DESC,
                     p.stock_qty > 0 DESC, p.name
            LIMIT $2""",
        query,
        limit,
    )
    items = [
        ProductSummary(
            id=str(r["id"]),
            sku=r["sku"],
            name=r["name"],
            price=r["price"],
            stock_qty=r["stock_qty"],
            unit=r["unit"],
        )
        for r in rows
    ]
    return json_response(ProductList(items=items))


@routes.get("/api/v1/products/{product_id}")
async def get_product(request: web.Request) -> web.Response:
    raw = request.match_info["product_id"]
    not_found = ApiError(ErrorCode.PRODUCT_NOT_FOUND, "No such product.", {"product_id": raw})
    product_id = path_uuid(request, "product_id", not_found)
    row = await state_of(request).pool.fetchrow(
        """SELECT p.id, p.sku, p.name, p.price, p.stock_qty, p.unit, p.description,
                  c.name AS category
             FROM store.products p JOIN store.categories c ON c.id = p.category_id
            WHERE p.id = $1""",
        product_id,
    )
    if row is None:
        raise not_found
    return json_response(Product(**{**dict(row), "id": str(row["id"])}))


@routes.get("/api/v1/customers/lookup")
async def lookup_customer(request: web.Request) -> web.Response:
    raw = query_str(request, "phone", required=True, max_length=32)
    assert raw is not None
    phone = phone_or_422(raw)
    row = await state_of(request).pool.fetchrow(
        "SELECT id, phone, name FROM store.customers WHERE phone = $1", phone
    )
    if row is None:
        raise ApiError(ErrorCode.CUSTOMER_NOT_FOUND, "No customer with this phone number.")
    return json_response(Customer(id=str(row["id"]), phone=row["phone"], name=row["name"]))


@routes.get("/api/v1/pickup-points")
async def pickup_points(request: web.Request) -> web.Response:
    city = query_str(request, "city", max_length=100)
    text = query_str(request, "q", max_length=100)
    rows = await state_of(request).pool.fetch(
        """SELECT id, name, city, address, hours
             FROM store.pickup_points
            WHERE ($1::text IS NULL OR store.search_norm(city) = $1)
              AND ($2::text IS NULL
                   OR search_text LIKE '%' || store.search_norm($2) || '%'
                   OR word_similarity(store.search_norm($2), search_text) >= 0.5)
            ORDER BY CASE WHEN $2::text IS NULL THEN 0
                          ELSE 1 - word_similarity(store.search_norm($2), search_text) END,
                     city, name
            LIMIT 20""",
        rules.normalise_city(city) if city else None,
        text,
    )
    return json_response(PickupPointList(items=[PickupPoint(**dict(r)) for r in rows]))


@routes.get("/api/v1/delivery/calculate")
async def calculate_delivery(request: web.Request) -> web.Response:
    state = state_of(request)
    today = state.today()
    raw_order = query_str(request, "order_id", max_length=64)
    point_id = query_str(request, "pickup_point_id", max_length=64)
    city = query_str(request, "city", max_length=100)
    query_str(request, "street", max_length=200)  # validated; the zone is by city
    query_str(request, "house", max_length=20)
    items_total = query_int(request, "items_total", default=None, minimum=0, maximum=10**12)
    if raw_order is not None:
        try:
            order_id = uuid.UUID(raw_order)
        except ValueError:
            raise order_not_found(raw_order) from None
        order_total = await state.pool.fetchval(
            "SELECT items_total FROM store.orders WHERE id = $1", order_id
        )
        if order_total is None:
            raise order_not_found(raw_order)
        items_total = order_total
    if point_id is not None:
        point = await rules.require_pickup_point(state.pool, point_id)
        quote = DeliveryQuote(
            available=True,
            cost=point.cost,
            estimated_date=point.ready_on(today),
            zone=f"pickup:{point.point.city}",
        )
        return json_response(quote)
    if city is None:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "Give city (+ street, house, items_total) for a courier, or pickup_point_id.",
            {"errors": [{"field": "city", "problem": "is required without pickup_point_id"}]},
        )
    zone = await rules.find_zone(state.pool, city)
    if zone is None:
        return json_response(
            DeliveryQuote(
                available=False,
                cost=None,
                estimated_date=None,
                zone=None,
                reason=f"No courier delivery to {city}.",
            )
        )
    return json_response(
        DeliveryQuote(
            available=True,
            cost=zone.cost_for(items_total or 0),
            estimated_date=zone.earliest(today),
            zone=zone.zone,
            free_from=zone.free_from,
        )
    )
