"""The Store API as the workflow sees it: the agent's tools and the caller look-up.

Failures come back as `ApplicationError`s typed with `core.vocabulary.ErrorType`: the Store
API client's error class name (`OutOfStock`, `TotalMismatch`, …) for business errors, which
are not retried, and `StoreUnavailable` for every kind of outage, which is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from temporalio import activity

from activities.interfaces.base import ActivityModel
from store_api.contract import (
    CourierDeliveryIn,
    CreateOrder,
    Customer,
    Order,
    OrderSummary,
    PickupDeliveryIn,
    PickupPoint,
    Product,
    ProductSummary,
)


class IdentifyRequest(ActivityModel):
    phone: str


class Identity(ActivityModel):
    customer: Customer | None
    active_orders: list[OrderSummary]


class ProductQuery(ActivityModel):
    query: str
    limit: int = 3


class ProductsFound(ActivityModel):
    items: list[ProductSummary]


class ProductRequest(ActivityModel):
    product_id: str


class OrdersQuery(ActivityModel):
    phone: str
    number: str | None = None


class OrdersFound(ActivityModel):
    """Orders of `phone`. `foreign` says (for the audit only) that the number exists but
    belongs to someone else; the caller is never told."""

    orders: list[OrderSummary]
    order: Order | None = None
    foreign: bool = False


class DraftRequest(ActivityModel):
    order: CreateOrder
    idempotency_key: str


class DeliveryRequest(ActivityModel):
    order_id: str
    delivery: CourierDeliveryIn | PickupDeliveryIn


class PickupQuery(ActivityModel):
    city: str | None = None
    query: str | None = None


class PickupPointsFound(ActivityModel):
    items: list[PickupPoint]


class ConfirmRequest(ActivityModel):
    order_id: str
    expected_total: int | None
    idempotency_key: str


class CancelRequest(ActivityModel):
    order_id: str
    reason: str
    idempotency_key: str


class OrderRequest(ActivityModel):
    order_id: str


class StoreActivities(ABC):
    """Implemented by `activities.store.HttpStoreActivities` (one client per worker)."""

    @activity.defn(name="identify_caller")
    @abstractmethod
    async def identify_caller(self, request: IdentifyRequest) -> Identity: ...

    @activity.defn(name="search_products")
    @abstractmethod
    async def search_products(self, query: ProductQuery) -> ProductsFound: ...

    @activity.defn(name="get_product")
    @abstractmethod
    async def get_product(self, request: ProductRequest) -> Product: ...

    @activity.defn(name="find_orders")
    @abstractmethod
    async def find_orders(self, query: OrdersQuery) -> OrdersFound: ...

    @activity.defn(name="create_draft")
    @abstractmethod
    async def create_draft(self, request: DraftRequest) -> Order: ...

    @activity.defn(name="set_delivery")
    @abstractmethod
    async def set_delivery(self, request: DeliveryRequest) -> Order: ...

    @activity.defn(name="find_pickup_points")
    @abstractmethod
    async def find_pickup_points(self, query: PickupQuery) -> PickupPointsFound: ...

    @activity.defn(name="confirm_order")
    @abstractmethod
    async def confirm_order(self, request: ConfirmRequest) -> Order: ...

    @activity.defn(name="cancel_order")
    @abstractmethod
    async def cancel_order(self, request: CancelRequest) -> Order: ...

    @activity.defn(name="get_order")
    @abstractmethod
    async def get_order(self, request: OrderRequest) -> Order: ...
