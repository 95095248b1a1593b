"""What each guided question waits for, so the edge knows how long a pause ends the answer."""

from __future__ import annotations

from core.vocabulary import Expectation
from guided.memory import Question

Q, E = Question, Expectation

EXPECTS: dict[Question, Expectation] = {
    Q.NEED: E.FREE,
    Q.ANYTHING_ELSE: E.FREE,
    Q.ORDER_NUMBER: E.DIGITS,
    Q.CHOOSE_ORDER: E.FREE,  # "второй", or an order number
    Q.CONTACT_PHONE: E.DIGITS,
    Q.PHONE_READBACK: E.YES_NO,
    Q.PRODUCT: E.PRODUCT,
    Q.CHOOSE_PRODUCT: E.FREE,
    Q.QUANTITY: E.DIGITS,
    Q.MORE_ITEMS: E.FREE,  # "нет", or another product
    Q.DELIVERY_TYPE: E.FREE,
    Q.ADDRESS: E.ADDRESS,
    Q.CITY: E.ADDRESS,
    Q.DATE: E.FREE,
    Q.PICKUP_PLACE: E.ADDRESS,
    Q.CHOOSE_PICKUP: E.FREE,
    Q.READY_TO_CONFIRM: E.YES_NO,
    Q.READBACK: E.YES_NO,
    Q.CHANGE: E.FREE,
}
