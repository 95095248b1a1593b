"""The Store API v1 contract as typed models, shared by the reference server and the client.

Request models are strict (unknown fields and wrong JSON types are rejected; an integral
float such as 57.0 counts as an integer, as JSON Schema says). Response models describe
exactly what the server sends and are what the OpenAPI document is generated from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

API_PREFIX = "/api/v1"
# The shop's clock: "today", delivery dates and the offsets of times in responses.
STORE_TZ = ZoneInfo("Europe/Moscow")
MAX_BODY_BYTES = 64 * 1024
MAX_ITEMS_PER_ORDER = 20
MAX_QUANTITY = 99
SEARCH_LIMIT_MAX = 20

# Headers both sides of the API must spell alike.
REQUEST_ID_HEADER = "X-Request-Id"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class ErrorCode(StrEnum):
    """Stable machine-readable error codes, with the HTTP status each one is sent with."""

    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    SEARCH_CRITERIA_REQUIRED = "SEARCH_CRITERIA_REQUIRED"
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    IDEMPOTENCY_KEY_IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    ORDER_NOT_EDITABLE = "ORDER_NOT_EDITABLE"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    DELIVERY_REQUIRED = "DELIVERY_REQUIRED"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_PHONE = "INVALID_PHONE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    DELIVERY_UNAVAILABLE = "DELIVERY_UNAVAILABLE"
    PICKUP_POINT_NOT_FOUND = "PICKUP_POINT_NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

    @property
    def http_status(self) -> int:
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.IDEMPOTENCY_KEY_REQUIRED: 400,
    ErrorCode.IDEMPOTENCY_KEY_INVALID: 400,
    ErrorCode.SEARCH_CRITERIA_REQUIRED: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PRODUCT_NOT_FOUND: 404,  # on POST /orders it is sent as 422 (see server)
    ErrorCode.CUSTOMER_NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: 409,
    ErrorCode.OUT_OF_STOCK: 409,
    ErrorCode.ORDER_NOT_EDITABLE: 409,
    ErrorCode.ORDER_NOT_CANCELLABLE: 409,
    ErrorCode.DELIVERY_REQUIRED: 409,
    ErrorCode.TOTAL_MISMATCH: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.INVALID_PHONE: 422,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.DELIVERY_UNAVAILABLE: 422,
    ErrorCode.PICKUP_POINT_NOT_FOUND: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class OrderStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    ASSEMBLING = "assembling"
    SHIPPED = "shipped"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def text_ru(self) -> str:
        return STATUS_TEXT_RU[self]

    @property
    def is_active(self) -> bool:
        return self not in (OrderStatus.DRAFT, OrderStatus.DELIVERED, OrderStatus.CANCELLED)


STATUS_TEXT_RU: dict[OrderStatus, str] = {
    OrderStatus.DRAFT: "оформляется",
    OrderStatus.CONFIRMED: "принят и ждёт сборки",
    OrderStatus.ASSEMBLING: "собирается на складе",
    OrderStatus.SHIPPED: "передан в доставку",
    OrderStatus.READY_FOR_PICKUP: "ждёт вас в пункте выдачи",
    OrderStatus.DELIVERED: "доставлен",
    OrderStatus.CANCELLED: "отменён",
}


def _integral(value: Any) -> Any:
    """JSON Schema's `integer` includes 57.0; Python's int does not. Accept it, nothing else."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral)]

# Validation context under which the server reads a request. Text rules that protect the
# server's storage apply only there: the workflow builds these models from an LLM's tool
# arguments, and a validation error raised in workflow code would fail the workflow task
# (retried forever) instead of coming back as the server's 422.
INBOUND: dict[str, Any] = {"inbound": True}


# Control characters a request's text may not hold, as regex classes that read the same in
# Python and in ECMA-262 (the OpenAPI pattern dialect). PostgreSQL text cannot hold NUL, and
# no field has a use for the other C0 controls or DEL; free text (a name, a comment, a
# reason) may still hold tab, newline and carriage return.
ONE_LINE_CONTROLS = r"\u0000-\u001f\u007f"
FREE_TEXT_CONTROLS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f"
ONE_LINE_PROBLEM = "must not contain control characters (U+0000–U+001F, U+007F)"
FREE_TEXT_PROBLEM = (
    "must not contain control characters (U+0000–U+001F, U+007F) other than tab, newline "
    "and carriage return"
)


@dataclass(frozen=True)
class NoControlCharacters:
    """Refuse control characters in a request's text field (422 naming the field) and
    publish the rule in the JSON Schema as a pattern and a description."""

    controls: str
    problem: str  # the 422's text; the JSON Schema description says the same

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        found = re.compile(f"[{self.controls}]")
        problem = self.problem

        def check(value: str, info: ValidationInfo) -> str:
            if info.context is not None and info.context.get("inbound") and found.search(value):
                raise PydanticCustomError("control_character", problem)
            return value

        return core_schema.with_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = f"^[^{self.controls}]*$"
        json_schema["description"] = f"Text that {self.problem}; else 422."
        return json_schema


# Text of one line (ids, phones, address parts) and free text (names, comments, reasons).
OneLine = NoControlCharacters(ONE_LINE_CONTROLS, ONE_LINE_PROBLEM)
FreeText = NoControlCharacters(FREE_TEXT_CONTROLS, FREE_TEXT_PROBLEM)

Money = Annotated[int, Field(description="Kopecks: 259900 is 2 599,00 ₽")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ------------------------------------------------------------------------------


class ErrorBody(ResponseModel):
    code: str = Field(description="Stable machine-readable code, e.g. ORDER_NOT_FOUND")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(ResponseModel):
    error: ErrorBody


# --- health and catalogue ------------------------------------------------------------------


class Health(ResponseModel):
    status: Literal["ok", "degraded"]
    db: Literal["ok", "unavailable"]


class ProductSummary(ResponseModel):
    id: str
    sku: str
    name: str
    price: Money
    currency: Literal["RUB"] = "RUB"
    stock_qty: int
    unit: str


class Product(ProductSummary):
    description: str
    category: str


class ProductList(ResponseModel):
    items: list[ProductSummary]


class Customer(ResponseModel):
    id: str
    phone: str
    name: str | None


# --- orders ------------------------------------------------------------------------------


class CustomerRef(RequestModel):
    phone: Annotated[str, StringConstraints(min_length=1, max_length=32), OneLine]
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), FreeText] | None
    ) = None


class OrderItemIn(RequestModel):
    product_id: Annotated[str, StringConstraints(min_length=1, max_length=64), OneLine]
    quantity: Annotated[JsonInt, Field(ge=1, le=MAX_QUANTITY)]


class CreateOrder(RequestModel):
    customer: CustomerRef
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)]
    channel: Literal["voice", "web", "phone_operator"] = "voice"
    call_id: Annotated[str, StringConstraints(max_length=128), OneLine] | None = None
    comment: Annotated[str, StringConstraints(max_length=500), FreeText] | None = None


class Address(RequestModel):
    city: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
    ]
    street: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine
    ]
    house: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), OneLine
    ]
    apartment: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), OneLine] | None
    ) = None
    comment: Annotated[str, StringConstraints(max_length=300), FreeText] | None = None


class CourierDeliveryIn(RequestModel):
    type: Literal["courier"]
    address: Address
    date: dt.date | None = Field(default=None, description="YYYY-MM-DD; default: earliest")


class PickupDeliveryIn(RequestModel):
    type: Literal["pickup"]
    pickup_point_id: Annotated[str, StringConstraints(min_length=1, max_length=64), OneLine]


DeliveryIn = Annotated[CourierDeliveryIn | PickupDeliveryIn, Field(discriminator="type")]


class ConfirmOrder(RequestModel):
    expected_total: Annotated[JsonInt, Field(ge=0)] | None = None


class CancelOrder(RequestModel):
    reason: Annotated[str, StringConstraints(max_length=500), FreeText] | None = None


class PickupPoint(ResponseModel):
    id: str
    name: str
    city: str
    address: str
    hours: str


class PickupPointList(ResponseModel):
    items: list[PickupPoint]


class AddressOut(ResponseModel):
    city: str
    street: str
    house: str
    apartment: str | None = None
    comment: str | None = None


class CourierDelivery(ResponseModel):
    type: Literal["courier"]
    address: AddressOut
    date: dt.date


class PickupDelivery(ResponseModel):
    type: Literal["pickup"]
    pickup_point: PickupPoint


class OrderItem(ResponseModel):
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class StatusChange(ResponseModel):
    status: OrderStatus
    at: dt.datetime


class Order(ResponseModel):
    id: str
    number: str
    status: OrderStatus
    status_text_ru: str
    customer: Customer
    items: list[OrderItem]
    items_total: Money
    delivery_cost: Money
    total: Money
    currency: Literal["RUB"] = "RUB"
    delivery: Annotated[CourierDelivery | PickupDelivery, Field(discriminator="type")] | None
    estimated_date: dt.date | None
    channel: str
    call_id: str | None
    comment: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    history: list[StatusChange]


class OrderSummary(ResponseModel):
    id: str
    number: str
    status: OrderStatus
    status_text_ru: str
    total: Money
    currency: Literal["RUB"] = "RUB"
    items_count: int
    created_at: dt.datetime
    estimated_date: dt.date | None


class OrderList(ResponseModel):
    items: list[OrderSummary]


class DeliveryQuote(ResponseModel):
    available: bool
    cost: Money | None
    currency: Literal["RUB"] = "RUB"
    estimated_date: dt.date | None
    zone: str | None
    free_from: Money | None = None
    reason: str | None = Field(default=None, description="Why delivery is unavailable")
