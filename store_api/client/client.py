"""`StoreApiClient`: the Store API v1 (see store-api.md) as typed async methods.

Every request goes through the process-wide circuit breaker of its base URL and, when it is
safe, through the retry policy (see retry.py). What is safe to repeat:
- GET — no effect;
- POST /orders, /confirm, /cancel — they carry an Idempotency-Key, and the server answers a
  repeat with the stored response instead of acting twice (that is the point of the key), so
  the key is a required argument and is the same on every attempt;
- PATCH /orders/{id}/delivery — it *sets* the delivery to the value sent, so applying it twice
  leaves the same order; after a timeout it is retried like a GET. If the order stopped being
  a draft in between, the repeat gets 409 ORDER_NOT_EDITABLE, which is the truth either way.
Every attempt of one call carries the same X-Request-Id, so the server's logs show them as
one request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar, overload
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from core.settings import Settings
from store_api.client.breaker import CircuitBreaker, breaker_for
from store_api.client.errors import (
    StoreConnectionError,
    StoreProtocolError,
    StoreTimeout,
    StoreUnavailable,
    error_from_response,
)
from store_api.client.retry import Deadline, RetryPolicy
from store_api.contract import (
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
    REQUEST_ID_HEADER,
    CancelOrder,
    ConfirmOrder,
    CourierDeliveryIn,
    CreateOrder,
    Customer,
    DeliveryQuote,
    Health,
    Order,
    OrderList,
    OrderStatus,
    OrderSummary,
    PickupDeliveryIn,
    PickupPoint,
    PickupPointList,
    Product,
    ProductList,
    ProductSummary,
)

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The order an idempotent POST produced, and whether this answer is a stored replay."""

    order: Order
    replayed: bool
    request_id: str


class StoreApiClient:
    """Async client of one Store API. Share one per process; use `async with` or `aclose()`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        breaker_threshold: int = 5,
        breaker_reset_s: float = 30.0,
    ) -> None:
        if not token:
            raise ValueError("a Store API token is required (STORE_API_TOKEN)")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry_policy = retry or RetryPolicy(total_timeout_s=timeout_s * 4)
        self.breaker = breaker or breaker_for(
            self.base_url, threshold=breaker_threshold, reset_timeout_s=breaker_reset_s
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout_s,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, breaker: CircuitBreaker | None = None
    ) -> StoreApiClient:
        token = settings.effective_store_api_token
        if token is None:
            raise ValueError("STORE_API_TOKEN must be set when STORE_API_MODE=prod")
        attempts = settings.store_api_retries + 1
        return cls(
            settings.store_api_url,
            token,
            timeout_s=settings.store_api_timeout_s,
            retry=RetryPolicy(
                attempts=attempts, total_timeout_s=settings.store_api_timeout_s * attempts
            ),
            breaker=breaker,
            breaker_threshold=settings.store_api_breaker_threshold,
            breaker_reset_s=settings.store_api_breaker_reset_s,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- health and catalogue -------------------------------------------------------------

    async def health(self, *, request_id: str | None = None) -> Health:
        """The server's own view, including `degraded` (its 503): no breaker, no retries."""
        headers = {REQUEST_ID_HEADER: request_id_of(request_id)}
        response = await self._send("GET", "health", headers=headers, timeout_s=self.timeout_s)
        if response.status_code == 503:
            try:
                return Health.model_validate_json(response.content)
            except ValidationError:
                pass
        _raise_for_status(response)
        return _parse(Health, response)

    async def search_products(
        self, q: str, *, limit: int | None = None, request_id: str | None = None
    ) -> list[ProductSummary]:
        response = await self._request(
            "GET", "products/search", params={"q": q, "limit": limit}, request_id=request_id
        )
        return _parse(ProductList, response).items

    async def get_product(self, product_id: str, *, request_id: str | None = None) -> Product:
        response = await self._request(
            "GET", f"products/{_segment(product_id)}", request_id=request_id
        )
        return _parse(Product, response)

    async def lookup_customer(self, phone: str, *, request_id: str | None = None) -> Customer:
        """The customer with this phone; raises CustomerNotFound for an unknown number."""
        response = await self._request(
            "GET", "customers/lookup", params={"phone": phone}, request_id=request_id
        )
        return _parse(Customer, response)

    # --- orders -------------------------------------------------------------------------

    async def search_orders(
        self,
        *,
        phone: str | None = None,
        number: str | None = None,
        status: OrderStatus | None = None,
        limit: int | None = None,
        request_id: str | None = None,
    ) -> list[OrderSummary]:
        """Newest first. The server needs `phone` or `number` (SearchCriteriaRequired)."""
        params = {
            "phone": phone,
            "number": number,
            "status": status.value if status else None,
            "limit": limit,
        }
        response = await self._request("GET", "orders/search", params=params, request_id=request_id)
        return _parse(OrderList, response).items

    async def get_order(self, order_id: str, *, request_id: str | None = None) -> Order:
        response = await self._request("GET", f"orders/{_segment(order_id)}", request_id=request_id)
        return _parse(Order, response)

    async def create_order(
        self, order: CreateOrder, *, idempotency_key: str, request_id: str | None = None
    ) -> OrderResult:
        """Create a draft. Derive the key from the call (workflow id + step), never at random."""
        response = await self._request(
            "POST", "orders", body=order, idempotency_key=idempotency_key, request_id=request_id
        )
        return _order_result(response)

    async def set_delivery(
        self,
        order_id: str,
        delivery: CourierDeliveryIn | PickupDeliveryIn,
        *,
        request_id: str | None = None,
    ) -> Order:
        response = await self._request(
            "PATCH", f"orders/{_segment(order_id)}/delivery", body=delivery, request_id=request_id
        )
        return _parse(Order, response)

    async def confirm_order(
        self,
        order_id: str,
        *,
        expected_total: int | None,
        idempotency_key: str,
        request_id: str | None = None,
    ) -> OrderResult:
        """Finalise a draft; TotalMismatch if its total is no longer `expected_total`."""
        response = await self._request(
            "POST",
            f"orders/{_segment(order_id)}/confirm",
            body=ConfirmOrder(expected_total=expected_total),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return _order_result(response)

    async def cancel_order(
        self,
        order_id: str,
        *,
        reason: str | None,
        idempotency_key: str,
        request_id: str | None = None,
    ) -> OrderResult:
        response = await self._request(
            "POST",
            f"orders/{_segment(order_id)}/cancel",
            body=CancelOrder(reason=reason),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return _order_result(response)

    # --- delivery -------------------------------------------------------------------------

    @overload
    async def calculate_delivery(
        self,
        *,
        city: str,
        street: str,
        house: str,
        items_total: int | None = None,
        order_id: str | None = None,
        request_id: str | None = None,
    ) -> DeliveryQuote: ...

    @overload
    async def calculate_delivery(
        self,
        *,
        pickup_point_id: str,
        order_id: str | None = None,
        request_id: str | None = None,
    ) -> DeliveryQuote: ...

    async def calculate_delivery(
        self,
        *,
        city: str | None = None,
        street: str | None = None,
        house: str | None = None,
        items_total: int | None = None,
        pickup_point_id: str | None = None,
        order_id: str | None = None,
        request_id: str | None = None,
    ) -> DeliveryQuote:
        """A courier quote for an address, or a pickup quote for a point.

        The goods total comes from `order_id` when given (the server reads the order),
        else from `items_total`: free delivery depends on it.
        """
        address = (city, street, house)
        if pickup_point_id is not None and all(part is None for part in address):
            params: dict[str, Any] = {"pickup_point_id": pickup_point_id, "order_id": order_id}
        elif pickup_point_id is None and all(part is not None for part in address):
            params = {
                "city": city,
                "street": street,
                "house": house,
                "items_total": items_total,
                "order_id": order_id,
            }
        else:
            raise TypeError(
                "calculate_delivery takes either city, street and house (courier) "
                "or pickup_point_id (pickup)"
            )
        response = await self._request(
            "GET", "delivery/calculate", params=params, request_id=request_id
        )
        return _parse(DeliveryQuote, response)

    async def pickup_points(
        self,
        *,
        city: str | None = None,
        q: str | None = None,
        request_id: str | None = None,
    ) -> list[PickupPoint]:
        response = await self._request(
            "GET", "pickup-points", params={"city": city, "q": q}, request_id=request_id
        )
        return _parse(PickupPointList, response).items

    # --- transport ------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: BaseModel | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """One call: retried per the policy, each attempt under the breaker."""
        request_id = request_id_of(request_id)
        headers = {REQUEST_ID_HEADER: request_id}
        if method == "POST":
            if not idempotency_key:
                raise ValueError(f"{method} /{path} needs a non-empty idempotency_key")
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        content: bytes | None = None
        if body is not None:
            # None fields are left out: the body, and so the key's fingerprint, stay stable.
            content = body.model_dump_json(exclude_none=True).encode()
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        # The query may hold a phone number: log lines name the path only.
        log_fields = {"method": method, "path": "/" + path, "request_id": request_id}
        deadline = Deadline.after(self.retry_policy.total_timeout_s)
        try:
            async for attempt in self.retry_policy.retrying(log_fields):
                with attempt:
                    return await self._attempt(
                        method, path, query, content, headers, deadline.clip(self.timeout_s)
                    )
        except StoreUnavailable as exc:
            # An open breaker is logged once, when it opens; every other outage is worth a
            # line when the call gives up, since the caller will now hear an apology.
            if not exc.breaker_open:
                log.warning("store_api_gave_up", **log_fields, error=exc.code, status=exc.status)
            raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any],
        content: bytes | None,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> httpx.Response:
        async with self.breaker.guard():
            response = await self._send(
                method, path, params=query, content=content, headers=headers, timeout_s=timeout_s
            )
            _raise_for_status(response)
        return response

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        timeout_s: float,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One HTTP exchange; a transport failure becomes StoreTimeout or StoreConnectionError."""
        request_id = headers[REQUEST_ID_HEADER]
        what = f"{method} /{path}"
        try:
            return await self._http.request(
                method, path, params=params, content=content, headers=headers, timeout=timeout_s
            )
        except httpx.TimeoutException as exc:
            raise StoreTimeout(
                f"{what}: no answer within {timeout_s:.3g} s ({type(exc).__name__})",
                request_id=request_id,
            ) from exc
        except httpx.TransportError as exc:
            raise StoreConnectionError(
                f"{what}: cannot reach {self.base_url}: {exc!r}", request_id=request_id
            ) from exc


def _raise_for_status(response: httpx.Response) -> None:
    if not response.is_success:
        raise error_from_response(
            response.status_code,
            response.content,
            response.headers,
            request_id=response.request.headers[REQUEST_ID_HEADER],
        )


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise StoreProtocolError(
            f"{response.request.method} {response.request.url.path}: HTTP "
            f"{response.status_code} body is not a valid {model.__name__}: "
            f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}",
            status=response.status_code,
            request_id=response.request.headers.get(REQUEST_ID_HEADER),
        ) from exc


def _order_result(response: httpx.Response) -> OrderResult:
    return OrderResult(
        order=_parse(Order, response),
        replayed=response.headers.get(REPLAYED_HEADER, "").lower() == "true",
        request_id=response.request.headers[REQUEST_ID_HEADER],
    )


def _segment(value: str) -> str:
    """An id as one path segment: `/`, `?`, `#` and dot-segments cannot leave the route."""
    if value in ("", ".", ".."):
        raise ValueError(f"not a valid id: {value!r}")
    return quote(value, safe="")


def _new_request_id() -> str:
    return uuid.uuid4().hex


_NOT_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:\-]")


def request_id_of(offered: str | None) -> str:
    """The caller's id (a workflow or activity id) as a header value servers keep as is.

    Servers tend to replace an id with characters outside a conservative set (ours accepts
    `[A-Za-z0-9._:-]{1,128}`), which would break the correlation the id is for.
    """
    if not offered:
        return _new_request_id()
    return _NOT_IN_REQUEST_ID.sub("-", offered)[:128]


__all__ = ["OrderResult", "StoreApiClient"]
