"""The OpenAPI 3.1 document, generated from the contract models and the operation table.

One table lists every public operation with its parameters, body and responses, so the
document cannot drift from the models the server validates with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from store_api.contract import (
    API_PREFIX,
    IDEMPOTENCY_KEY_HEADER,
    ONE_LINE_CONTROLS,
    ONE_LINE_PROBLEM,
    SEARCH_LIMIT_MAX,
    CancelOrder,
    ConfirmOrder,
    CreateOrder,
    Customer,
    DeliveryIn,
    DeliveryQuote,
    ErrorResponse,
    Health,
    Order,
    OrderList,
    OrderStatus,
    PickupPointList,
    Product,
    ProductList,
)
from store_api.server.idempotency import MAX_KEY_LENGTH

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "query" | "path" | "header"
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: tuple[int, type[BaseModel]]
    params: tuple[Param, ...] = ()
    body: Any = None  # a model class or a TypeAdapter
    errors: tuple[int, ...] = ()
    idempotent: bool = False
    public: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _str(min_length: int = 0, max_length: int = 200) -> dict[str, Any]:
    """A text query parameter: one line, as the server's query_str reads it."""
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "pattern": f"^[^{ONE_LINE_CONTROLS}]*$",
        "description": f"Text that {ONE_LINE_PROBLEM}; else 422.",
    }


UUID_PATH = {"type": "string", "maxLength": 64}
LIMIT = Param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT_MAX, "default": 10}
)
IDEMPOTENCY = Param(
    IDEMPOTENCY_KEY_HEADER,
    "header",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
    required=True,
    description="Unique per intended change; a retry sends the same key and gets the same reply.",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get", "/health", "Service and database health", (200, Health), public=True, errors=(503,)
    ),
    Operation(
        "get",
        "/products/search",
        "Full-text and fuzzy product search in Russian",
        (200, ProductList),
        params=(Param("q", "query", _str(2, 100), required=True), LIMIT),
        errors=(422,),
    ),
    Operation(
        "get",
        "/products/{product_id}",
        "One product with description and stock",
        (200, Product),
        params=(Param("product_id", "path", UUID_PATH, required=True),),
        errors=(404,),
    ),
    Operation(
        "get",
        "/customers/lookup",
        "Find a customer by phone (CallerID identification)",
        (200, Customer),
        params=(Param("phone", "query", _str(1, 32), required=True),),
        errors=(404, 422),
    ),
    Operation(
        "get",
        "/orders/search",
        "Orders by customer phone and/or order number, newest first",
        (200, OrderList),
        params=(
            Param("phone", "query", _str(0, 32)),
            Param("number", "query", _str(0, 20)),
            Param("status", "query", {"type": "string", "enum": [s.value for s in OrderStatus]}),
            LIMIT,
        ),
        errors=(400, 422),
    ),
    Operation(
        "get",
        "/orders/{order_id}",
        "The full order",
        (200, Order),
        params=(Param("order_id", "path", UUID_PATH, required=True),),
        errors=(404,),
    ),
    Operation(
        "post",
        "/orders",
        "Create a draft order (prices from the catalogue)",
        (201, Order),
        params=(IDEMPOTENCY,),
        body=CreateOrder,
        errors=(400, 409, 413, 415, 422),
        idempotent=True,
    ),
    Operation(
        "patch",
        "/orders/{order_id}/delivery",
        "Set courier or pickup delivery on a draft",
        (200, Order),
        params=(Param("order_id", "path", UUID_PATH, required=True),),
        body=TypeAdapter(DeliveryIn),
        errors=(400, 404, 409, 413, 415, 422),
    ),
    Operation(
        "post",
        "/orders/{order_id}/confirm",
        "Confirm a draft and reserve its stock",
        (200, Order),
        params=(Param("order_id", "path", UUID_PATH, required=True), IDEMPOTENCY),
        body=ConfirmOrder,
        errors=(400, 404, 409, 413, 415, 422),
        idempotent=True,
    ),
    Operation(
        "post",
        "/orders/{order_id}/cancel",
        "Cancel a draft or a not yet shipped order",
        (200, Order),
        params=(Param("order_id", "path", UUID_PATH, required=True), IDEMPOTENCY),
        body=CancelOrder,
        errors=(400, 404, 409, 413, 415, 422),
        idempotent=True,
    ),
    Operation(
        "get",
        "/delivery/calculate",
        "Courier or pickup delivery cost and date",
        (200, DeliveryQuote),
        params=(
            Param("city", "query", _str(0, 100)),
            Param("street", "query", _str(0, 200)),
            Param("house", "query", _str(0, 20)),
            Param("items_total", "query", {"type": "integer", "minimum": 0}),
            Param("order_id", "query", _str(0, 64)),
            Param("pickup_point_id", "query", _str(0, 64)),
        ),
        errors=(404, 422),
    ),
    Operation(
        "get",
        "/pickup-points",
        "Pickup points by city and/or a spoken query",
        (200, PickupPointList),
        params=(Param("city", "query", _str(0, 100)), Param("q", "query", _str(0, 100))),
        errors=(422,),
    ),
)

_ERROR_TEXT = {
    400: "Malformed request (bad JSON, missing Idempotency-Key or search criteria)",
    401: "Missing or wrong bearer token",
    404: "Not found",
    405: "Method not allowed",
    409: "State conflict (stock, order state, total changed, request in flight)",
    413: "Body larger than 64 KiB",
    415: "Body is not application/json",
    422: "Validation failed",
    429: "Rate limited",
    500: "Internal error",
    503: "Temporarily unavailable",
}


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schemas of every model, and of the delivery union, with shared $refs."""
    requests: list[type[BaseModel]] = [CreateOrder, ConfirmOrder, CancelOrder]
    responses: list[type[BaseModel]] = [
        Health,
        ProductList,
        Product,
        Customer,
        OrderList,
        Order,
        DeliveryQuote,
        PickupPointList,
        ErrorResponse,
    ]
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in requests]
    modes += [(m, "serialization") for m in responses]
    _, top = models_json_schema(modes, ref_template=REF)
    components: dict[str, Any] = dict(top.get("$defs", {}))
    delivery = TypeAdapter(DeliveryIn).json_schema(ref_template=REF, mode="validation")
    components.update(delivery.pop("$defs", {}))
    components["DeliveryIn"] = delivery
    return components, delivery


def _ref(model: Any) -> dict[str, Any]:
    if isinstance(model, TypeAdapter):
        return {"$ref": REF.format(model="DeliveryIn")}
    return {"$ref": REF.format(model=model.__name__)}


_ORDER_LINKS = {
    "GetOrder": "get_orders_order_id",
    "SetDelivery": "patch_orders_order_id_delivery",
    "ConfirmOrder": "post_orders_order_id_confirm",
    "CancelOrder": "post_orders_order_id_cancel",
}


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^a-z_]+", "_", op.path.replace("{", "").replace("}", "")).strip("_")
    return f"{op.method}_{words}"


def _operation(op: Operation) -> dict[str, Any]:
    statuses = sorted({*op.errors, 500, 503} | (set() if op.public else {401, 429}))
    responses: dict[str, Any] = {
        str(op.ok[0]): {
            "description": "OK",
            "content": {"application/json": {"schema": _ref(op.ok[1])}},
        }
    }
    if op.public and op.path == "/health":
        responses["503"] = {
            "description": "The database is unreachable",
            "content": {"application/json": {"schema": _ref(Health)}},
        }
        statuses.remove(503)
    for status in statuses:
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": _ref(ErrorResponse)}},
        }
    if op.ok[1] is Order:
        # Links let schemathesis' stateful phase walk create → delivery → confirm → cancel.
        responses[str(op.ok[0])]["links"] = {
            name: {"operationId": target, "parameters": {"order_id": "$response.body#/id"}}
            for name, target in _ORDER_LINKS.items()
        }
    spec: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "responses": responses,
    }
    if op.params:
        spec["parameters"] = [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required,
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
            }
            for p in op.params
        ]
    if op.body is not None:
        spec["requestBody"] = {
            "required": op.body is CreateOrder or isinstance(op.body, TypeAdapter),
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    if op.public:
        spec["security"] = []
    return spec


def build_openapi() -> dict[str, Any]:
    components, _ = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    paths["/openapi.json"] = {
        "get": {
            "operationId": "get_openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Store API",
            "version": "1.0.0",
            "description": "Reference Store API of voiceorder. Money in kopecks; times RFC 3339.",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
