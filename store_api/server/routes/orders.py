"""Orders: search, read, create a draft, set delivery, confirm, cancel."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from core.db import DbConn
from core.phones import InvalidPhone, normalise_phone
from store_api.contract import (
    SEARCH_LIMIT_MAX,
    CancelOrder,
    ConfirmOrder,
    CourierDelivery,
    CourierDeliveryIn,
    CreateOrder,
    DeliveryIn,
    ErrorBody,
    ErrorCode,
    ErrorResponse,
    Order,
    OrderList,
    OrderStatus,
    PickupDelivery,
    PickupDeliveryIn,
)
from store_api.server import delivery as rules
from store_api.server import orders_repo as repo
from store_api.server.errors import ApiError, validation_error
from store_api.server.idempotency import Outcome, require_key, run_idempotent
from store_api.server.requests import (
    json_response,
    parse_body,
    path_uuid,
    query_int,
    query_str,
    read_body,
)
from store_api.server.state import state_of

routes = web.RouteTableDef()

CANCELLABLE = {OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.ASSEMBLING}

_delivery_adapter: TypeAdapter[CourierDeliveryIn | PickupDeliveryIn] = TypeAdapter(DeliveryIn)


def order_not_found(order_id: str) -> ApiError:
    return ApiError(ErrorCode.ORDER_NOT_FOUND, "No such order.", {"order_id": order_id})


async def lock_order(conn: DbConn, order_id: uuid.UUID) -> asyncpg.Record:
    """The order's row, locked for the rest of the transaction; 404 when there is none."""
    row = await repo.fetch_order_row(conn, order_id, for_update=True)
    if row is None:
        raise order_not_found(str(order_id))
    return row


def phone_or_422(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone as exc:
        raise ApiError(ErrorCode.INVALID_PHONE, str(exc)) from None


def _order_outcome(order: Order, status: int = 200) -> Outcome:
    return Outcome(status, order.model_dump_json().encode())


async def _order_or_404(conn: DbConn, order_id: uuid.UUID) -> Order:
    order = await repo.load_order(conn, order_id)
    if order is None:
        raise order_not_found(str(order_id))
    return order


@routes.get("/api/v1/orders/search")
async def search_orders(request: web.Request) -> web.Response:
    raw_phone = query_str(request, "phone", max_length=32)
    number = query_str(request, "number", max_length=20)
    raw_status = query_str(request, "status", max_length=32)
    limit = query_int(request, "limit", default=10, minimum=1, maximum=SEARCH_LIMIT_MAX)
    if raw_phone is None and number is None:
        raise ApiError(
            ErrorCode.SEARCH_CRITERIA_REQUIRED, "Give a phone, an order number, or both."
        )
    phone = phone_or_422(raw_phone) if raw_phone is not None else None
    try:
        status = OrderStatus(raw_status) if raw_status is not None else None
    except ValueError:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown status {raw_status!r}.",
            {"errors": [{"field": "status", "problem": "unknown status"}]},
        ) from None
    assert limit is not None
    async with state_of(request).pool.acquire() as conn:
        items = await repo.search_orders(
            conn, phone=phone, number=number, status=status, limit=limit
        )
    return json_response(OrderList(items=items))


@routes.get("/api/v1/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    order_id = path_uuid(request, "order_id", order_not_found(request.match_info["order_id"]))
    async with state_of(request).pool.acquire() as conn:
        order = await _order_or_404(conn, order_id)
    return json_response(order)


@routes.post("/api/v1/orders")
async def create_order(request: web.Request) -> web.Response:
    state = state_of(request)
    key = require_key(request)
    body = await read_body(request)
    draft = parse_body(body, CreateOrder)
    phone = phone_or_422(draft.customer.phone)
    product_ids: list[uuid.UUID] = []
    for index, item in enumerate(draft.items):
        try:
            product_ids.append(uuid.UUID(item.product_id))
        except ValueError:
            raise _product_not_found(item.product_id, index) from None
    if len(set(product_ids)) != len(product_ids):
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "Each product may appear once; put the total in its quantity.",
            {"errors": [{"field": "items", "problem": "duplicate product_id"}]},
        )

    async def effect(conn: DbConn) -> Outcome:
        customer_id = await conn.fetchval(
            """INSERT INTO store.customers (phone, name) VALUES ($1, $2)
               ON CONFLICT (phone) DO UPDATE
                   SET name = coalesce(store.customers.name, EXCLUDED.name)
               RETURNING id""",
            phone,
            draft.customer.name or None,
        )
        products = {
            row["id"]: row
            for row in await conn.fetch(
                "SELECT id, sku, name, price, stock_qty FROM store.products WHERE id = ANY($1)",
                product_ids,
            )
        }
        lines = []
        for index, (product_id, item) in enumerate(zip(product_ids, draft.items, strict=True)):
            product = products.get(product_id)
            if product is None:
                raise _product_not_found(item.product_id, index)
            if item.quantity > product["stock_qty"]:
                raise _out_of_stock(product, item.quantity)
            lines.append((product, item.quantity))
        items_total = sum(product["price"] * qty for product, qty in lines)
        order_id = await conn.fetchval(
            """INSERT INTO store.orders (status, customer_id, items_total, delivery_cost, total,
                                         channel, call_id, comment)
               VALUES ('draft', $1, $2, 0, $2, $3, $4, $5) RETURNING id""",
            customer_id,
            items_total,
            draft.channel,
            draft.call_id,
            draft.comment,
        )
        await conn.executemany(
            """INSERT INTO store.order_items
                   (order_id, position, product_id, sku, name, quantity, unit_price, line_total)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (order_id, pos, p["id"], p["sku"], p["name"], qty, p["price"], p["price"] * qty)
                for pos, (p, qty) in enumerate(lines, start=1)
            ],
        )
        await repo.record_status(conn, order_id, OrderStatus.DRAFT)
        return _order_outcome(await _order_or_404(conn, order_id), status=201)

    return await run_idempotent(state, request, key, body, effect)


@routes.patch("/api/v1/orders/{order_id}/delivery")
async def set_delivery(request: web.Request) -> web.Response:
    state = state_of(request)
    order_id = path_uuid(request, "order_id", order_not_found(request.match_info["order_id"]))
    body = await read_body(request)
    if not body.strip():
        raise ApiError(ErrorCode.MALFORMED_REQUEST, "The request needs a JSON body.")
    try:
        wanted = _delivery_adapter.validate_json(body, strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from None
    today = state.today()
    async with state.pool.acquire() as conn, conn.transaction():
        row = await lock_order(conn, order_id)
        _require_draft(row)
        delivery: CourierDelivery | PickupDelivery
        if isinstance(wanted, CourierDeliveryIn):
            zone = await rules.require_zone(conn, wanted.address.city)
            delivery = rules.courier_delivery(wanted, zone, today)
            cost = zone.cost_for(row["items_total"])
            estimated = delivery.date
        else:
            point = await rules.require_pickup_point(conn, wanted.pickup_point_id)
            delivery = rules.pickup_delivery(point)
            cost = point.cost
            estimated = point.ready_on(today)
        await conn.execute(
            """UPDATE store.orders
                  SET delivery = $2::jsonb, delivery_cost = $3, total = items_total + $3,
                      estimated_date = $4, updated_at = now()
                WHERE id = $1""",
            order_id,
            delivery.model_dump_json(),
            cost,
            estimated,
        )
        order = await _order_or_404(conn, order_id)
    return json_response(order)


@routes.post("/api/v1/orders/{order_id}/confirm")
async def confirm_order(request: web.Request) -> web.Response:
    state = state_of(request)
    key = require_key(request)
    order_id = path_uuid(request, "order_id", order_not_found(request.match_info["order_id"]))
    body = await read_body(request)
    wanted = parse_body(body or b"{}", ConfirmOrder)

    async def effect(conn: DbConn) -> Outcome:
        row = await lock_order(conn, order_id)
        _require_draft(row)
        if row["delivery"] is None:
            raise ApiError(
                ErrorCode.DELIVERY_REQUIRED,
                "Set the delivery (courier or pickup) before confirming.",
                {"order_id": str(order_id)},
            )
        total = await _reprice(conn, order_id, row)
        if wanted.expected_total is not None and wanted.expected_total != total:
            # The repricing is kept (the order now shows the current total), so the caller
            # can hear the new total and confirm again with a new key.
            error = ErrorResponse(
                error=ErrorBody(
                    code=ErrorCode.TOTAL_MISMATCH.value,
                    message="The order total changed since it was read back.",
                    details={"expected_total": wanted.expected_total, "total": total},
                )
            )
            return Outcome(409, error.model_dump_json().encode())
        items = await repo.fetch_items(conn, order_id)
        for item in sorted(items, key=lambda i: i["product_id"]):
            left = await conn.fetchval(
                """UPDATE store.products SET stock_qty = stock_qty - $2, updated_at = now()
                    WHERE id = $1 AND stock_qty >= $2 RETURNING stock_qty""",
                item["product_id"],
                item["quantity"],
            )
            if left is None:
                product = await conn.fetchrow(
                    "SELECT id, sku, name, stock_qty FROM store.products WHERE id = $1",
                    item["product_id"],
                )
                assert product is not None  # order_items references products
                raise _out_of_stock(product, item["quantity"])
        await conn.execute(
            """UPDATE store.orders SET status = 'confirmed', stock_reserved = true,
                      confirmed_at = now(), updated_at = now() WHERE id = $1""",
            order_id,
        )
        await repo.record_status(conn, order_id, OrderStatus.CONFIRMED)
        return _order_outcome(await _order_or_404(conn, order_id))

    return await run_idempotent(state, request, key, body, effect)


@routes.post("/api/v1/orders/{order_id}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    state = state_of(request)
    key = require_key(request)
    order_id = path_uuid(request, "order_id", order_not_found(request.match_info["order_id"]))
    body = await read_body(request)
    wanted = parse_body(body or b"{}", CancelOrder)

    async def effect(conn: DbConn) -> Outcome:
        row = await lock_order(conn, order_id)
        status = OrderStatus(row["status"])
        if status not in CANCELLABLE:
            raise ApiError(
                ErrorCode.ORDER_NOT_CANCELLABLE,
                f"An order that is {status.text_ru} can no longer be cancelled.",
                {"status": status.value},
            )
        if row["stock_reserved"]:
            await repo.release_stock(conn, order_id)
        await conn.execute(
            """UPDATE store.orders SET status = 'cancelled', cancelled_at = now(),
                      cancel_reason = $2, updated_at = now() WHERE id = $1""",
            order_id,
            wanted.reason,
        )
        await repo.record_status(conn, order_id, OrderStatus.CANCELLED)
        return _order_outcome(await _order_or_404(conn, order_id))

    return await run_idempotent(state, request, key, body, effect)


async def _reprice(conn: DbConn, order_id: uuid.UUID, row: asyncpg.Record) -> int:
    """Bring a draft to today's catalogue prices; return its (possibly new) total."""
    await conn.execute(
        """UPDATE store.order_items i SET unit_price = p.price, line_total = p.price * i.quantity
             FROM store.products p
            WHERE i.order_id = $1 AND p.id = i.product_id AND i.unit_price <> p.price""",
        order_id,
    )
    items_total = await conn.fetchval(
        "SELECT coalesce(sum(line_total), 0) FROM store.order_items WHERE order_id = $1", order_id
    )
    cost = await rules.delivery_cost_of(conn, repo.stored_delivery(row), items_total)
    total = int(items_total + cost)
    if total != row["total"] or items_total != row["items_total"]:
        await conn.execute(
            """UPDATE store.orders SET items_total = $2, delivery_cost = $3, total = $4,
                      updated_at = now() WHERE id = $1""",
            order_id,
            items_total,
            cost,
            total,
        )
    return total


def _require_draft(row: asyncpg.Record) -> None:
    status = OrderStatus(row["status"])
    if status is not OrderStatus.DRAFT:
        raise ApiError(
            ErrorCode.ORDER_NOT_EDITABLE,
            f"Only a draft can be changed or confirmed; this order is {status.text_ru}.",
            {"status": status.value},
        )


def _product_not_found(product_id: str, index: int) -> ApiError:
    return ApiError(
        ErrorCode.PRODUCT_NOT_FOUND,
        f"No product with id {product_id!r}.",
        {"product_id": product_id, "item": index},
        status=422,
    )


def _out_of_stock(product: asyncpg.Record, requested: int) -> ApiError:
    return ApiError(
        ErrorCode.OUT_OF_STOCK,
        f"Not enough «{product['name']}» in stock: {product['stock_qty']} left.",
        {
            "product_id": str(product["id"]),
            "sku": product["sku"],
            "requested": requested,
            "available": product["stock_qty"],
        },
    )
