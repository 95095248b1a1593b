"""What the guided agent remembers between turns: the question it is waiting an answer to,
the candidates it read out, the items gathered so far and how often it did not understand.

Pydantic, because it travels: the workflow keeps it in `CallState` (and carries it over
continue-as-new) and hands it to the `guided_turn` activity each time.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Question(StrEnum):
    """The question the caller is answering (one at a time, IVR style)."""

    NEED = "need"  # "Узнать о заказе или оформить новый?"
    ANYTHING_ELSE = "anything_else"  # after a finished task: "Могу ещё чем-нибудь помочь?"
    ORDER_NUMBER = "order_number"
    CHOOSE_ORDER = "choose_order"
    CONTACT_PHONE = "contact_phone"
    PHONE_READBACK = "phone_readback"  # the workflow read the number back: "Верно?"
    PRODUCT = "product"
    CHOOSE_PRODUCT = "choose_product"
    QUANTITY = "quantity"
    MORE_ITEMS = "more_items"
    DELIVERY_TYPE = "delivery_type"
    ADDRESS = "address"
    CITY = "city"
    DATE = "date"
    PICKUP_PLACE = "pickup_place"
    CHOOSE_PICKUP = "choose_pickup"
    READY_TO_CONFIRM = "ready_to_confirm"  # delivery set, the read-back is next
    READBACK = "readback"  # the workflow read the order back: "Всё верно?"
    CHANGE = "change"  # "Что изменить: товары, количество или доставку?"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Candidate(Model):
    """Something read out for the caller to choose: a product, a pickup point or an order."""

    id: str
    name: str


class Item(Model):
    product_id: str
    name: str
    quantity: Annotated[int, Field(ge=1, le=99)]


class PartialAddress(Model):
    city: str | None = None
    street: str | None = None
    house: str | None = None
    apartment: str | None = None


class GuidedMemory(Model):
    question: Question = Question.NEED
    asked: list[str] = Field(default_factory=list)  # the last question, for "повторите"
    misunderstood: Annotated[int, Field(ge=0)] = 0  # in a row; the re-prompt budget
    candidates: list[Candidate] = Field(default_factory=list)
    heard: str = ""  # the caller's words behind the pending search
    quantity: Annotated[int, Field(ge=1, le=99)] | None = None  # said with the product
    chosen: Candidate | None = None  # a product waiting for its quantity
    items: list[Item] = Field(default_factory=list)
    replacing: str | None = None  # product id sold out: the next choice takes its place
    address: PartialAddress | None = None
    date: dt.date | None = None  # the courier date asked for (kept when the address changes)
    order_number: str | None = None  # withheld caller: asked before the phone
    after_phone: Literal["status", "order"] | None = None
    calls_made: Annotated[int, Field(ge=0)] = 0  # tool call ids stay unique in the call

    def reset_order(self) -> None:
        self.candidates, self.chosen, self.items = [], None, []
        self.quantity, self.replacing, self.address, self.heard = None, None, None, ""
