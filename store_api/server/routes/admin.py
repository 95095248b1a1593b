"""Admin endpoints for tests and demos (dev/test mode only; not in the public contract)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from store_api.contract import ErrorCode, OrderStatus, RequestModel
from store_api.server import orders_repo as repo
from store_api.server.errors import ApiError
from store_api.server.faults import FaultConfig
from store_api.server.requests import json_response, parse_body, path_uuid, read_body
from store_api.server.routes.orders import lock_order, order_not_found
from store_api.server.state import state_of

routes = web.RouteTableDef()

# Orders leave "draft" only through confirm/cancel; after that staff may move them on.
_AFTER_CONFIRMATION = {
    OrderStatus.CONFIRMED: {OrderStatus.ASSEMBLING, OrderStatus.CANCELLED},
    OrderStatus.ASSEMBLING: {
        OrderStatus.SHIPPED,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.CANCELLED,
    },
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED, OrderStatus.READY_FOR_PICKUP},
    OrderStatus.READY_FOR_PICKUP: {OrderStatus.DELIVERED},
}


class StatusChangeIn(RequestModel):
    status: OrderStatus


class ProductChangeIn(RequestModel):
    price: Annotated[int, Field(gt=0)] | None = None
    stock_qty: Annotated[int, Field(ge=0)] | None = None


def _require_admin(request: web.Request) -> None:
    if not state_of(request).admin_enabled:
        raise ApiError(ErrorCode.NOT_FOUND, "Not found.")


@routes.put("/api/v1/admin/faults")
async def set_faults(request: web.Request) -> web.Response:
    _require_admin(request)
    config = parse_body(await read_body(request), FaultConfig)
    state_of(request).faults.config = config
    return json_response(config)


@routes.delete("/api/v1/admin/faults")
async def clear_faults(request: web.Request) -> web.Response:
    _require_admin(request)
    state_of(request).faults.config = FaultConfig()
    return web.Response(status=204)


@routes.post("/api/v1/admin/orders/{order_id}/status")
async def change_status(request: web.Request) -> web.Response:
    _require_admin(request)
    order_id = path_uuid(request, "order_id", order_not_found(request.match_info["order_id"]))
    wanted = parse_body(await read_body(request), StatusChangeIn).status
    async with state_of(request).pool.acquire() as conn, conn.transaction():
        row = await lock_order(conn, order_id)
        current = OrderStatus(row["status"])
        if wanted not in _AFTER_CONFIRMATION.get(current, set()):
            raise ApiError(
                ErrorCode.ORDER_NOT_EDITABLE,
                f"Cannot move an order from {current.value} to {wanted.value}.",
                {"status": current.value},
            )
        if wanted is OrderStatus.CANCELLED and row["stock_reserved"]:
            await repo.release_stock(conn, order_id)
        await conn.execute(
            """UPDATE store.orders SET status = $2, updated_at = now(),
                      cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END
                WHERE id = $1""",
            order_id,
            wanted.value,
        )
        await repo.record_status(conn, order_id, wanted)
        order = await repo.load_order(conn, order_id)
    assert order is not None
    return json_response(order)


@routes.patch("/api/v1/admin/products/{product_id}")
async def change_product(request: web.Request) -> web.Response:
    _require_admin(request)
    raw = request.match_info["product_id"]
    not_found = ApiError(ErrorCode.PRODUCT_NOT_FOUND, "No such product.", {"product_id": raw})
    product_id = path_uuid(request, "product_id", not_found)
    change = parse_body(await read_body(request), ProductChangeIn)
    row = await state_of(request).pool.fetchrow(
        """UPDATE store.products SET price = coalesce($2, price),
                  stock_qty = coalesce($3, stock_qty), updated_at = now()
            WHERE id = $1 RETURNING id, price, stock_qty""",
        product_id,
        change.price,
        change.stock_qty,
    )
    if row is None:
        raise not_found
    return web.json_response(
        {"id": str(row["id"]), "price": row["price"], "stock_qty": row["stock_qty"]}
    )
