"""Where the demo shop delivers: courier zones by city, and pickup points.

Pickup points are chosen so that spoken queries are ambiguous the way real ones are: two
points near "Тверская" in Москва, "Ленинский" and "Ленинградский" проспекты, two on Невский
in Санкт-Петербург. Новосибирск has a pickup point but no courier zone, so "доставка туда
не идёт, но есть самовывоз" is a real answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from store_api.contract import PickupPoint


@dataclass(frozen=True, slots=True)
class DeliveryZone:
    city: str
    zone: str
    cost: int  # kopecks
    free_from: int | None  # items_total from which courier delivery is free
    days: int  # earliest delivery date is today + days
    max_days_ahead: int = 14

    def cost_for(self, items_total: int) -> int:
        return 0 if self.free_from is not None and items_total >= self.free_from else self.cost


@dataclass(frozen=True, slots=True)
class PickupPointSeed:
    id: str
    name: str
    city: str
    address: str
    hours: str
    cost: int = 0
    days: int = 1

    def wire(self) -> PickupPoint:
        """The point as the API shows it (and as it is stored inside an order's delivery)."""
        return PickupPoint(
            id=self.id, name=self.name, city=self.city, address=self.address, hours=self.hours
        )


DAILY = "ежедневно 10:00–22:00"

ZONES: tuple[DeliveryZone, ...] = (
    DeliveryZone("Москва", "Москва в пределах МКАД", 29900, 500000, 1),
    DeliveryZone("Санкт-Петербург", "Санкт-Петербург в пределах КАД", 34900, 500000, 1),
    DeliveryZone("Казань", "Казань", 24900, 400000, 2),
    DeliveryZone("Екатеринбург", "Екатеринбург", 27900, 400000, 2),
)

PICKUP_POINTS: tuple[PickupPointSeed, ...] = (
    PickupPointSeed(
        "msk-tverskaya-7", "Пункт выдачи на Тверской", "Москва", "ул. Тверская, 7", DAILY
    ),
    PickupPointSeed(
        "msk-tverskaya-yamskaya-12",
        "Пункт выдачи на Тверской-Ямской",
        "Москва",
        "ул. 1-я Тверская-Ямская, 12",
        "ежедневно 09:00–21:00",
    ),
    PickupPointSeed(
        "msk-leninsky-30", "Пункт выдачи на Ленинском", "Москва", "Ленинский проспект, 30", DAILY
    ),
    PickupPointSeed(
        "msk-leningradsky-62",
        "Пункт выдачи на Ленинградском",
        "Москва",
        "Ленинградский проспект, 62",
        "пн–пт 09:00–21:00, сб–вс 10:00–18:00",
    ),
    PickupPointSeed(
        "msk-profsoyuznaya-56",
        "Пункт выдачи на Профсоюзной",
        "Москва",
        "ул. Профсоюзная, 56",
        DAILY,
    ),
    PickupPointSeed(
        "msk-mira-118",
        "Пункт выдачи на проспекте Мира",
        "Москва",
        "проспект Мира, 118",
        "ежедневно 08:00–23:00",
    ),
    PickupPointSeed(
        "msk-arbat-24",
        "Постамат на Арбате",
        "Москва",
        "ул. Арбат, 24, в магазине «Продукты»",
        "круглосуточно",
        cost=4900,
    ),
    PickupPointSeed(
        "spb-nevsky-28",
        "Пункт выдачи на Невском, 28",
        "Санкт-Петербург",
        "Невский проспект, 28",
        DAILY,
    ),
    PickupPointSeed(
        "spb-nevsky-114",
        "Пункт выдачи на Невском, 114",
        "Санкт-Петербург",
        "Невский проспект, 114",
        "ежедневно 09:00–21:00",
    ),
    PickupPointSeed(
        "spb-moskovsky-73",
        "Пункт выдачи на Московском",
        "Санкт-Петербург",
        "Московский проспект, 73",
        DAILY,
    ),
    PickupPointSeed(
        "spb-vasilyevsky-6-11",
        "Пункт выдачи на Васильевском",
        "Санкт-Петербург",
        "6-я линия В. О., 11",
        DAILY,
        days=2,
    ),
    PickupPointSeed(
        "kzn-baumana-44", "Пункт выдачи на Баумана", "Казань", "ул. Баумана, 44", DAILY, days=2
    ),
    PickupPointSeed(
        "kzn-pushkina-10", "Пункт выдачи на Пушкина", "Казань", "ул. Пушкина, 10", DAILY, days=2
    ),
    PickupPointSeed(
        "ekb-lenina-50",
        "Пункт выдачи на проспекте Ленина",
        "Екатеринбург",
        "проспект Ленина, 50",
        DAILY,
        days=2,
    ),
    PickupPointSeed(
        "nsk-krasny-25",
        "Пункт выдачи на Красном проспекте",
        "Новосибирск",
        "Красный проспект, 25",
        "ежедневно 10:00–21:00",
        cost=14900,
        days=3,
    ),
)


def zone(city: str) -> DeliveryZone:
    for candidate in ZONES:
        if candidate.city == city:
            return candidate
    raise KeyError(f"no courier zone for {city!r} in the seed data")


def pickup_point(point_id: str) -> PickupPointSeed:
    for candidate in PICKUP_POINTS:
        if candidate.id == point_id:
            return candidate
    raise KeyError(f"no pickup point {point_id!r} in the seed data")
