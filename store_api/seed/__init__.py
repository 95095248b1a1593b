"""Russian demo data for the reference Store API, and its idempotent loader.

`seed_store(conn, today=...)` loads, in one transaction and only into an empty catalogue:

- 289 products in 12 categories of a grocery and household shop, SKUs "GR-0001"…, ids
  uuid5 of the SKU (`product_id(sku)`), prices in kopecks, groups of similar products
  (several гречка, молоко, кефир, кофе), a few sold out (`out_of_stock_skus()`) and a few
  with 1–3 left (`low_stock_skus()`);
- courier zones in Москва, Санкт-Петербург, Казань, Екатеринбург, and 15 pickup points in
  those cities and Новосибирск (pickup only);
- 10 customers and 17 orders in every status, dated relative to `today`.

Personas (phones in E.164; order numbers are fixed, below the live sequence 100100):

=================  ================  ===============================================
constant           name, phone       orders
=================  ================  ===============================================
``MANY_ACTIVE``    Анна Смирнова,    100046 assembling (courier, arrives today+1),
(a) S2, S3         +79161234567      100045 shipped (courier, arrives today),
                                     100041 ready_for_pickup (msk-tverskaya-7),
                                     100027 delivered
``ONE_ACTIVE``     Игорь Петров,     100043 shipped (courier СПб, arrives today+1) —
(b) S1             +79031112233      his only order
``NO_ACTIVE``      Ольга Кузнецова,  100033 cancelled, 100012 delivered
(c)                +79265554433
``NO_ORDERS``      Дмитрий Волков,   none: a known caller placing a new order (S4, S5)
(d)                +79857778899
``OTHER``          Сергей Иванов,    100048 confirmed (courier, today+2) — the number
(e) S3             +79672223344      Анна names in S3 (`FOREIGN_ORDER_NUMBER`),
                                     100024 delivered
=================  ================  ===============================================

Tests that change orders (status, cancel) should use orders they create themselves: the
personas' orders are what the dialog scenarios and the demo are played against.
"""

from store_api.seed.catalogue import low_stock_skus, out_of_stock_skus
from store_api.seed.ids import customer_id, order_id, product_id
from store_api.seed.loader import SeedReport, seed_store
from store_api.seed.personas import (
    FOREIGN_ORDER_NUMBER,
    MANY_ACTIVE,
    NO_ACTIVE,
    NO_ORDERS,
    ONE_ACTIVE,
    OTHER,
    PERSONAS,
    Persona,
)

__all__ = [
    "FOREIGN_ORDER_NUMBER",
    "MANY_ACTIVE",
    "NO_ACTIVE",
    "NO_ORDERS",
    "ONE_ACTIVE",
    "OTHER",
    "PERSONAS",
    "Persona",
    "SeedReport",
    "customer_id",
    "low_stock_skus",
    "order_id",
    "out_of_stock_skus",
    "product_id",
    "seed_store",
]
