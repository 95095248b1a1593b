"""The demo orders: who ordered what, when, how it is delivered and how far it has got.

Times are relative to the day the seed is loaded, so "shipped yesterday, arrives today"
stays true on any day. Numbers are below the live sequence (100100) and rise with the
creation time, with gaps, as a real shop's would. Every status appears at least once.
"""

from __future__ import annotations

from dataclasses import dataclass

from store_api.contract import OrderStatus
from store_api.seed.personas import (
    ALEXEY,
    ELENA,
    MANY_ACTIVE,
    MARAT,
    NAMELESS,
    NATALIA,
    NO_ACTIVE,
    ONE_ACTIVE,
    OTHER,
)

S = OrderStatus
Line = tuple[str, int]  # product name as in the catalogue, quantity


@dataclass(frozen=True, slots=True)
class Courier:
    city: str
    street: str
    house: str
    apartment: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Pickup:
    point_id: str


@dataclass(frozen=True, slots=True)
class OrderSpec:
    number: str
    phone: str
    status: OrderStatus
    created: tuple[int, str]  # (days before today, "HH:MM" Moscow time)
    lines: tuple[Line, ...]
    delivery: Courier | Pickup | None = None
    # Orders still on their way (confirmed, assembling, shipped): expected today + this.
    arrives_in_days: int | None = None
    channel: str = "voice"
    comment: str | None = None
    # Cancelled orders: the status they were cancelled from, and why.
    cancelled_from: OrderStatus = OrderStatus.CONFIRMED
    cancel_reason: str | None = None


ANNA_HOME = Courier("Москва", "ул. Тверская", "18", "54", "домофон 54, третий этаж")

ORDERS: tuple[OrderSpec, ...] = (
    OrderSpec(
        "100012",
        NO_ACTIVE.phone,
        S.DELIVERED,
        (40, "18:20"),
        (
            ("Гречка ядрица Русская трапеза 900 г", 2),
            ("Молоко Домашнее 3,2% 1 л", 3),
            ("Яйца куриные С1 10 шт", 1),
            ("Хлеб Бородинский 350 г", 1),
            ("Сыр Российский 45% 200 г", 1),
        ),
        Courier("Москва", "ул. Вавилова", "13", "45"),
    ),
    OrderSpec(
        "100018",
        ELENA.phone,
        S.DELIVERED,
        (30, "12:05"),
        (
            ("Кофе молотый Арабика Живой кофе 250 г", 2),
            ("Чай чёрный с бергамотом 25 пакетиков", 1),
            ("Шоколад горький 72% 90 г", 3),
            ("Печенье овсяное 300 г", 1),
        ),
        Pickup("spb-nevsky-28"),
        channel="web",
    ),
    OrderSpec(
        "100021",
        MARAT.phone,
        S.CANCELLED,
        (21, "10:40"),
        (
            ("Подгузники Мамино солнышко размер 3 (4–9 кг) 52 шт", 2),
            ("Салфетки влажные детские 120 шт", 3),
            ("Пюре фруктовое яблоко 90 г", 10),
        ),
        Courier("Казань", "ул. Декабристов", "85", "12"),
        cancel_reason="Клиент передумал",
    ),
    OrderSpec(
        "100024",
        OTHER.phone,
        S.DELIVERED,
        (17, "19:45"),
        (
            ("Таблетки для посудомоечной машины 60 шт", 1),
            ("Средство для мытья посуды Блеск 900 мл", 2),
            ("Губки для посуды 5 шт", 1),
            ("Пакеты для мусора 60 л 20 шт", 2),
        ),
        Pickup("msk-leninsky-30"),
        channel="web",
    ),
    OrderSpec(
        "100027",
        MANY_ACTIVE.phone,
        S.DELIVERED,
        (14, "09:30"),
        (  # above the free-delivery threshold on purpose
            ("Кофе в зёрнах Арабика Бразилия 1 кг", 2),
            ("Подгузники Премиум Софт размер 4 (7–14 кг) 46 шт", 1),
            ("Молоко Деревенское утро 2,5% 1 л", 2),
        ),
        ANNA_HOME,
    ),
    OrderSpec(
        "100033",
        NO_ACTIVE.phone,
        S.CANCELLED,
        (9, "20:15"),
        (
            ("Масло оливковое Extra Virgin 500 мл", 1),
            ("Рис басмати 500 г", 2),
            ("Киноа белая 350 г", 1),
        ),
        Pickup("msk-profsoyuznaya-56"),
        cancel_reason="Клиент отменил заказ по телефону",
    ),
    OrderSpec(
        "100036",
        NAMELESS.phone,
        S.CANCELLED,
        (8, "13:02"),
        (("Кола 1,5 л", 2), ("Вода питьевая негазированная 5 л", 1)),
        cancelled_from=S.DRAFT,
        cancel_reason="Звонок завершился до подтверждения заказа",
    ),
    OrderSpec(
        "100039",
        NATALIA.phone,
        S.DELIVERED,
        (6, "11:11"),
        (
            ("Филе куриное охлаждённое", 2),
            ("Картофель мытый", 3),
            ("Морковь мытая", 1),
            ("Лук репчатый", 1),
            ("Сметана Деревенское утро 20% 300 г", 1),
        ),
        Courier("Екатеринбург", "ул. Малышева", "51", "7"),
    ),
    OrderSpec(
        "100041",
        MANY_ACTIVE.phone,
        S.READY_FOR_PICKUP,
        (4, "08:50"),
        (
            ("Гречка ядрица Золотое поле 900 г", 2),
            ("Молоко Вологодский край 2,5% 1 л", 2),
            ("Творог 5% 200 г", 2),
            ("Бананы", 1),
        ),
        Pickup("msk-tverskaya-7"),
    ),
    OrderSpec(
        "100042",
        ELENA.phone,
        S.READY_FOR_PICKUP,
        (3, "15:00"),
        (
            ("Молоко ультрапастеризованное 3,2% 1 л", 4),
            ("Овсяные хлопья Геркулес традиционные 500 г", 1),
            ("Мёд цветочный 500 г", 1),
        ),
        Pickup("spb-moskovsky-73"),
        channel="web",
    ),
    OrderSpec(
        "100043",
        ONE_ACTIVE.phone,
        S.SHIPPED,
        (2, "10:15"),
        (
            ("Кофе молотый Арабика 250 г", 2),
            ("Сливки питьевые 10% 500 мл", 1),
            ("Сыр Голландский 45% 200 г", 1),
            ("Батон нарезной 400 г", 1),
        ),
        Courier("Санкт-Петербург", "Лиговский проспект", "50", "12"),
        arrives_in_days=1,
    ),
    OrderSpec(
        "100045",
        MANY_ACTIVE.phone,
        S.SHIPPED,
        (2, "18:30"),
        (
            ("Сок апельсиновый 1 л", 2),
            ("Вода питьевая негазированная 1,5 л", 6),
            ("Яблоки Гала", 2),
            ("Сыр Моцарелла 45% 125 г", 2),
            ("Помидоры черри 250 г", 2),
        ),
        ANNA_HOME,
        arrives_in_days=0,
    ),
    OrderSpec(
        "100046",
        MANY_ACTIVE.phone,
        S.ASSEMBLING,
        (1, "09:20"),
        (
            ("Средство для мытья посуды Чистая линия лимон 450 мл", 2),
            ("Пакеты для мусора 30 л 30 шт", 1),
            ("Салфетки влажные детские 64 шт", 2),
            ("Пюре фруктовое груша 90 г", 6),
        ),
        ANNA_HOME,
        arrives_in_days=1,
    ),
    OrderSpec(
        "100047",
        NATALIA.phone,
        S.ASSEMBLING,
        (1, "10:05"),
        (
            ("Гель для стирки универсальный 1,5 л", 1),
            ("Кондиционер для белья 1 л", 1),
            ("Туалетная бумага двухслойная 12 рулонов", 1),
        ),
        Courier("Екатеринбург", "ул. Малышева", "51", "7"),
        arrives_in_days=2,
        channel="web",
    ),
    OrderSpec(
        "100048",
        OTHER.phone,
        S.CONFIRMED,
        (1, "11:45"),
        (
            ("Тушёнка говяжья высший сорт 325 г", 4),
            ("Гречка ядрица Русская трапеза 800 г", 3),
            ("Макароны спагетти Шебекинские 450 г", 2),
            ("Чай чёрный в пакетиках 100 шт", 1),
        ),
        Courier("Москва", "Ленинский проспект", "45", "210"),
        arrives_in_days=2,
        comment="Позвоните за час до доставки",
    ),
    OrderSpec(
        "100049",
        MARAT.phone,
        S.CONFIRMED,
        (1, "14:30"),
        (
            ("Рис длиннозёрный пропаренный 900 г", 2),
            ("Масло подсолнечное нерафинированное 1 л", 1),
            ("Нут 450 г", 2),
            ("Чечевица красная 450 г", 1),
        ),
        Pickup("kzn-baumana-44"),
        arrives_in_days=2,
    ),
    OrderSpec(
        "100050",
        ALEXEY.phone,
        S.DRAFT,
        (1, "22:10"),
        (("Шоколад молочный 90 г", 2), ("Зефир ванильный 250 г", 1)),
        channel="web",
    ),
)
