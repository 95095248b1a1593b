"""Store API activities: the agent's tools and the caller look-up, through the resilient client.

Store API errors become typed `ApplicationError`s: the type is the client's error class name
(`StoreUnavailable`, `OutOfStock`, `TotalMismatch`, …) so operators read it in the UI and
the workflow branches on it; business errors are non-retryable, outages retryable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.interfaces.base import implements
from activities.interfaces.store import (
    CancelRequest,
    ConfirmRequest,
    DeliveryRequest,
    DraftRequest,
    IdentifyRequest,
    Identity,
    OrderRequest,
    OrdersFound,
    OrdersQuery,
    PickupPointsFound,
    PickupQuery,
    ProductQuery,
    ProductRequest,
    ProductsFound,
    StoreActivities,
)
from core.vocabulary import ErrorType
from store_api.client import CustomerNotFound, StoreApiClient, StoreApiError, StoreUnavailable
from store_api.contract import Order, Product

T = TypeVar("T")


def application_error(exc: StoreApiError) -> ApplicationError:
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    return ApplicationError(
        str(exc),
        {"code": exc.code, "status": exc.status, "details": dict(exc.details)},
        type=_error_type(exc),
        non_retryable=not exc.retryable,
        next_retry_delay=delay,
    )


def _error_type(exc: StoreApiError) -> ErrorType:
    # Every flavour of outage (5xx, timeout, breaker open) is one thing to an operator.
    if isinstance(exc, StoreUnavailable):
        return ErrorType.STORE_UNAVAILABLE
    return ErrorType(type(exc).__name__)


class HttpStoreActivities(StoreActivities):
    """The Store API over HTTP: one client (and so one circuit breaker) per worker process."""

    def __init__(self, client: StoreApiClient) -> None:
        self._client = client

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except StoreApiError as exc:
            raise application_error(exc) from None

    def _request_id(self) -> str:
        info = activity.info()
        return f"{info.workflow_id}.{info.activity_id}.{info.attempt}"

    @implements(StoreActivities.identify_caller)
    async def identify_caller(self, request: IdentifyRequest) -> Identity:
        rid = self._request_id()

        async def run() -> Identity:
            try:
                customer = await self._client.lookup_customer(request.phone, request_id=rid)
            except CustomerNotFound:
                return Identity(customer=None, active_orders=[])
            orders = await self._client.search_orders(phone=request.phone, limit=20, request_id=rid)
            return Identity(
                customer=customer, active_orders=[o for o in orders if o.status.is_active]
            )

        return await self._call(run)

    @implements(StoreActivities.search_products)
    async def search_products(self, query: ProductQuery) -> ProductsFound:
        items = await self._call(
            lambda: self._client.search_products(
                query.query, limit=query.limit, request_id=self._request_id()
            )
        )
        return ProductsFound(items=items)

    @implements(StoreActivities.get_product)
    async def get_product(self, request: ProductRequest) -> Product:
        return await self._call(
            lambda: self._client.get_product(request.product_id, request_id=self._request_id())
        )

    @implements(StoreActivities.find_orders)
    async def find_orders(self, query: OrdersQuery) -> OrdersFound:
        rid = self._request_id()

        async def run() -> OrdersFound:
            orders = await self._client.search_orders(
                phone=query.phone, number=query.number, limit=20, request_id=rid
            )
            if query.number is None:
                return OrdersFound(orders=orders)
            if not orders:
                anyone = await self._client.search_orders(number=query.number, request_id=rid)
                return OrdersFound(orders=[], foreign=bool(anyone))
            order = await self._client.get_order(orders[0].id, request_id=rid)
            return OrdersFound(orders=orders, order=order)

        return await self._call(run)

    @implements(StoreActivities.create_draft)
    async def create_draft(self, request: DraftRequest) -> Order:
        result = await self._call(
            lambda: self._client.create_order(
                request.order,
                idempotency_key=request.idempotency_key,
                request_id=self._request_id(),
            )
        )
        return result.order

    @implements(StoreActivities.set_delivery)
    async def set_delivery(self, request: DeliveryRequest) -> Order:
        return await self._call(
            lambda: self._client.set_delivery(
                request.order_id, request.delivery, request_id=self._request_id()
            )
        )

    @implements(StoreActivities.find_pickup_points)
    async def find_pickup_points(self, query: PickupQuery) -> PickupPointsFound:
        items = await self._call(
            lambda: self._client.pickup_points(
                city=query.city, q=query.query, request_id=self._request_id()
            )
        )
        return PickupPointsFound(items=items)

    @implements(StoreActivities.confirm_order)
    async def confirm_order(self, request: ConfirmRequest) -> Order:
        result = await self._call(
            lambda: self._client.confirm_order(
                request.order_id,
                expected_total=request.expected_total,
                idempotency_key=request.idempotency_key,
                request_id=self._request_id(),
            )
        )
        return result.order

    @implements(StoreActivities.cancel_order)
    async def cancel_order(self, request: CancelRequest) -> Order:
        result = await self._call(
            lambda: self._client.cancel_order(
                request.order_id,
                reason=request.reason,
                idempotency_key=request.idempotency_key,
                request_id=self._request_id(),
            )
        )
        return result.order

    @implements(StoreActivities.get_order)
    async def get_order(self, request: OrderRequest) -> Order:
        return await self._call(
            lambda: self._client.get_order(request.order_id, request_id=self._request_id())
        )
