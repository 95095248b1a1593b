"""The confirmation SMS (dialog.md): number, item count, total, delivery type and date, a short
address or pickup point — and always within two UCS-2 segments.

    Заказ 100245 принят: 3 товара, 2599 ₽. Курьер 30.11, ул. Тверская 7. Спасибо!
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from russian.addresses import short_address, short_street
from russian.dates import short_date
from russian.money import short_money
from russian.numbers import agree
from store_api.contract import CourierDelivery, Order, PickupDelivery

# Cyrillic makes an SMS UCS-2: 70 characters in one segment, 67 in each of several.
SMS_LIMIT = 2 * 67
_THANKS = " Спасибо!"
_ELLIPSIS = "…"
_MIN_PLACE = 8  # a place cut shorter than this helps nobody: drop it instead
_POINT_KIND = re.compile(r"\bпункт\s+выдачи\b", re.IGNORECASE)
# A caller may dictate a phone into an address line; the SMS carries no phone numbers.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s()\-]{5,}\d")


def _one_line(text: str) -> str:
    return " ".join(_PHONE_LIKE.sub("", text).split()).strip(" ,.;")


def _places(order: Order) -> tuple[str, list[str]]:
    """The delivery kind and the ways to say where, longest first."""
    delivery = order.delivery
    if isinstance(delivery, CourierDelivery):
        address = _one_line(short_address(delivery.address))
        return "Курьер", [address] if address else []
    if isinstance(delivery, PickupDelivery):
        point = delivery.pickup_point
        name = _one_line(_POINT_KIND.sub("ПВЗ", point.name))
        address = _one_line(short_street(point.address))
        both = [f"{name} ({address})"] if name and address else []
        return "Самовывоз", [*both, name or address] if name or address else []
    return "", []


def _when(order: Order) -> str:
    delivery = order.delivery
    if isinstance(delivery, CourierDelivery):
        return short_date(delivery.date)
    return short_date(order.estimated_date) if order.estimated_date else ""


def _cut(text: str, room: int) -> str:
    """`text` within `room` characters, cut at a word and marked with "…"."""
    if len(text) <= room:
        return text
    cut = text[: room - len(_ELLIPSIS)]
    if " " in cut[len(cut) // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;(-") + _ELLIPSIS


def _drafts(order: Order) -> Iterator[str]:
    """Candidate texts from the fullest to the barest; the first that fits is sent."""
    count = sum(item.quantity for item in order.items)
    head = (
        f"Заказ {order.number} принят: {count} {agree('товар', count)}, {short_money(order.total)}."
    )
    kind, places = _places(order)
    if not kind:
        yield head + _THANKS
        yield head
        return
    lead = " ".join(part for part in (kind, _when(order)) if part)
    for place in places:
        yield f"{head} {lead}, {place}.{_THANKS}"
    for place in places:
        yield f"{head} {lead}, {place}."
    if places:
        # Only reached when the whole place does not fit: the cut ends in "…", not a dot.
        room = SMS_LIMIT - len(f"{head} {lead}, ")
        if room >= _MIN_PLACE:
            yield f"{head} {lead}, {_cut(places[-1], room)}"
    yield f"{head} {lead}."
    yield head


def confirmation_sms(order: Order) -> str:
    """The SMS for a confirmed order, never longer than `SMS_LIMIT` characters.

    When the full text is too long, it sheds in this order: the pickup point's address, the
    closing "Спасибо!", the tail of the address or point name, the place, the delivery line.
    Only an absurdly long order number could still overflow; then the text is cut.
    """
    for draft in _drafts(order):
        if len(draft) <= SMS_LIMIT:
            return draft
    return _cut(next(_drafts(order)), SMS_LIMIT)
