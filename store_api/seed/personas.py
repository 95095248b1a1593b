"""Demo customers, and the personas the dialog scenarios (S1–S3, S4/S5) are played with.

A persona's order numbers are spelled out here, not derived, so tests, the docs and demo
scripts can name them; `orders.py` holds the orders themselves and a test keeps the two in
agreement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Persona:
    role: str
    name: str
    phone: str  # E.164, as the Store API stores it
    active_orders: tuple[str, ...]  # numbers, newest first
    past_orders: tuple[str, ...]  # delivered or cancelled, newest first

    @property
    def orders(self) -> tuple[str, ...]:
        return self.active_orders + self.past_orders


@dataclass(frozen=True, slots=True)
class CustomerSeed:
    phone: str
    name: str | None  # None: created by a call where the caller never said a name
    since_days: int  # the record was created this many days before the seed's today


MANY_ACTIVE = Persona(
    role="three active orders and a delivered one (S2; guesses OTHER's number in S3)",
    name="Анна Смирнова",
    phone="+79161234567",
    active_orders=("100046", "100045", "100041"),  # assembling, shipped, ready_for_pickup
    past_orders=("100027",),  # delivered
)
ONE_ACTIVE = Persona(
    role="exactly one order, shipped, with an expected date (S1)",
    name="Игорь Петров",
    phone="+79031112233",
    active_orders=("100043",),  # shipped
    past_orders=(),
)
NO_ACTIVE = Persona(
    role="only finished orders: one delivered, one cancelled",
    name="Ольга Кузнецова",
    phone="+79265554433",
    active_orders=(),
    past_orders=("100033", "100012"),  # cancelled, delivered
)
NO_ORDERS = Persona(
    role="known caller without orders: greeted by name, places a new order (S4, S5)",
    name="Дмитрий Волков",
    phone="+79857778899",
    active_orders=(),
    past_orders=(),
)
OTHER = Persona(
    role="owner of the order number MANY_ACTIVE names in S3",
    name="Сергей Иванов",
    phone="+79672223344",
    active_orders=("100048",),  # confirmed
    past_orders=("100024",),  # delivered
)

PERSONAS: tuple[Persona, ...] = (MANY_ACTIVE, ONE_ACTIVE, NO_ACTIVE, NO_ORDERS, OTHER)

# The order number MANY_ACTIVE says in S3: it exists, but belongs to OTHER.
FOREIGN_ORDER_NUMBER = OTHER.active_orders[0]

# Background customers, so that the order table is not only the personas.
ELENA = CustomerSeed("+79219876543", "Елена Попова", 200)
MARAT = CustomerSeed("+79172345678", "Марат Хабибуллин", 90)
NATALIA = CustomerSeed("+79122223344", "Наталья Соколова", 60)
ALEXEY = CustomerSeed("+79035556677", "Алексей Морозов", 20)
NAMELESS = CustomerSeed("+79150001122", None, 8)

CUSTOMERS: tuple[CustomerSeed, ...] = (
    CustomerSeed(MANY_ACTIVE.phone, MANY_ACTIVE.name, 420),
    CustomerSeed(ONE_ACTIVE.phone, ONE_ACTIVE.name, 35),
    CustomerSeed(NO_ACTIVE.phone, NO_ACTIVE.name, 300),
    CustomerSeed(NO_ORDERS.phone, NO_ORDERS.name, 12),
    CustomerSeed(OTHER.phone, OTHER.name, 150),
    ELENA,
    MARAT,
    NATALIA,
    ALEXEY,
    NAMELESS,
)
