"""The guided dialog as a state machine: (what was asked, what the caller said or what a tool
returned) → one line to say or one tool to propose, and the updated memory.

Pure: the same inputs give the same step (`today` comes in, nothing is looked up). The
workflow still checks every proposed tool against its stage table, reads the order back
itself and grants a confirmation only on a plain yes — this policy only asks the questions.

Two entry points, picked by `decide`:
- `_on_caller`: the caller just spoke; the pending question says how to read the words.
- `_after_tool`: a tool this policy proposed has answered; say what it means or go on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.vocabulary import DRAFT_STAGES, ErrorType, Stage, ToolName
from guided import lines
from guided.memory import Candidate, GuidedMemory, Item, PartialAddress, Question
from russian.farewells import closes_the_conversation, is_farewell
from russian.understanding import (
    Intent,
    classify_reply,
    match_products,
    parse_address,
    parse_city,
    parse_delivery_date,
    parse_digits,
    parse_ordinal,
    parse_quantity,
)
from russian.understanding.products import product_query
from russian.understanding.requests import (
    Request,
    change_target,
    classify_request,
    delivery_kind,
    mentions_address,
    mentions_date,
    says_done,
    says_more,
    wants_soonest,
)
from russian.yes_words import is_plain_yes
from store_api.contract import ErrorCode

# Misunderstandings in a row before the caller is handed to a person (the re-prompt budget).
MAX_MISUNDERSTOOD = 3
MAX_QUANTITY = 99
MIN_PHONE_DIGITS = 10
# A match this far ahead of the next one is taken without asking "which one?".
CLEAR_LEAD = 8.0

Q = Question
T = ToolName
# The bot's own offer of a person (store trouble, too many errors, silence), so a plain yes
# after it means "connect me".
OFFERED_OPERATOR = re.compile(r"соедин\w* (?:вас )?с оператором", re.IGNORECASE)
# Questions asked while the list of items is gathered.
LIST_QUESTIONS = frozenset(
    {Question.PRODUCT, Question.CHOOSE_PRODUCT, Question.QUANTITY, Question.MORE_ITEMS}
)
DONE_STAGES = frozenset({Stage.CONFIRMED, Stage.SMS_SENT, Stage.CANCELLED, Stage.CONFIRMING})
# Questions where closing words ("всё, спасибо") end the call. Not while the list of items is
# gathered ("всё" completes it), nor at the read-back (a "yes" is asked for, not guessed).
CLOSABLE = frozenset(
    {
        Q.NEED, Q.ANYTHING_ELSE, Q.ORDER_NUMBER, Q.CHOOSE_ORDER, Q.CONTACT_PHONE,
        Q.DELIVERY_TYPE, Q.ADDRESS, Q.CITY, Q.DATE, Q.PICKUP_PLACE, Q.CHOOSE_PICKUP, Q.CHANGE,
    }
)  # fmt: skip
# Questions that cannot be pending while the read-back waits for its answer: the read-back
# came after them (a price change, a call just switched from the LLM). Any other question
# was asked after the read-back, to change something.
STALE_AT_READBACK = frozenset({Question.NEED, Question.ANYTHING_ELSE, Question.READY_TO_CONFIRM})


@dataclass(frozen=True)
class ToolResult:
    name: str
    payload: Mapping[str, Any]

    @property
    def error(self) -> bool:
        return "error" in self.payload

    @property
    def code(self) -> str:
        return str(self.payload.get("code") or "")


@dataclass(frozen=True)
class Turn:
    """Everything the policy may look at for one step."""

    caller_text: str  # what the caller said; the keys themselves for a keypad turn
    stage: Stage
    tools: frozenset[ToolName]
    today: dt.date
    withheld: bool = False
    phone_known: bool = True  # the verified phone (CallerID or confirmed by read-back)
    results: tuple[ToolResult, ...] = ()  # tool results since the caller spoke, in order
    previous_reply: str = ""  # the bot's last words before the caller spoke
    keypad: str | None = None  # keys pressed as this turn ("102045", "*"), not words


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Use:
    name: ToolName
    arguments: dict[str, Any] = field(default_factory=dict)


Action = Say | Use


def decide(turn: Turn, memory: GuidedMemory) -> tuple[Action, GuidedMemory]:
    m = memory.model_copy(deep=True)
    action = _after_tool(turn, turn.results[-1], m) if turn.results else _on_caller(turn, m)
    if isinstance(action, Use) and action.name not in turn.tools:
        # The stage table would refuse it anyway; say so instead of burning an error.
        m.question = Q.ANYTHING_ELSE
        action = Say(lines.not_now())
    if isinstance(action, Use):
        m.calls_made += 1
    return action, m


# --- the caller spoke --------------------------------------------------------------------


def _pending(turn: Turn, m: GuidedMemory) -> Question:
    """The question the caller is answering; the stage corrects a memory that is behind (a
    call that just switched from the LLM, a read-back that became a confirmation)."""
    if turn.stage is Stage.AWAITING_CONFIRMATION and m.question in STALE_AT_READBACK:
        return Q.READBACK
    if turn.stage in DONE_STAGES and m.question in (Q.READBACK, Q.READY_TO_CONFIRM, Q.CHANGE):
        return Q.ANYTHING_ELSE
    if m.question in (Q.NEED, Q.ANYTHING_ELSE):
        if turn.stage is Stage.DRAFTING:
            return Q.DELIVERY_TYPE
        if turn.stage is Stage.DELIVERY:
            return Q.READY_TO_CONFIRM
    return m.question


def _on_caller(turn: Turn, m: GuidedMemory) -> Action:
    text = turn.caller_text
    question = _pending(turn, m)
    m.question = question
    if turn.keypad is not None and "*" in turn.keypad:
        return _cancel(turn, m)  # "*" cancels; the workflow handles it itself once drafted
    intent = classify_reply(text)
    if intent is Intent.OPERATOR:
        return Use(T.TRANSFER_TO_OPERATOR, {"reason": "звонящий попросил оператора"})
    if intent is Intent.YES and OFFERED_OPERATOR.search(turn.previous_reply):
        # "Могу соединить с оператором." — "Да".
        return Use(T.TRANSFER_TO_OPERATOR, {"reason": "звонящий согласился на оператора"})
    if intent is Intent.CANCEL and says_done(text) and question in LIST_QUESTIONS and m.items:
        intent = Intent.NO  # "больше ничего не надо": the list is complete, not cancelled
    if intent is Intent.CANCEL:
        return _cancel(turn, m)
    if intent is Intent.REPEAT:
        # The last words again; the workflow's read-back too (the bot did not compose it).
        return Say(turn.previous_reply or " ".join(m.asked) or lines.question(question))
    if is_farewell(text) or (question in CLOSABLE and closes_the_conversation(text)):
        # "всё, спасибо" to "Курьером или сами?" takes leave; it is no street or product.
        return Use(T.END_CALL, {"reason": "звонящий попрощался"})
    action = HANDLERS[question](turn, m, intent)
    if action is None and question is Q.NEED and not m.asked:
        # A call that just left the LLM: the words answered the LLM's question, not ours.
        return _ask(m, Q.NEED)
    if action is None:
        m.misunderstood += 1
        if m.misunderstood >= MAX_MISUNDERSTOOD:
            return Use(T.TRANSFER_TO_OPERATOR, {"reason": "бот не понял ответы звонящего"})
        return _ask(m, question, lines.not_understood(question))
    if not (isinstance(action, Use) and action.name is T.SEARCH_PRODUCTS):
        m.misunderstood = 0  # a search counts as understood only when something matches
    return action


def _ask(m: GuidedMemory, question: Question, text: str | None = None) -> Say:
    m.question = question
    said = text or lines.question(question)
    m.asked = [said]
    return Say(said)


def _cancel(turn: Turn, m: GuidedMemory) -> Action:
    gathering = bool(m.items or m.chosen or m.candidates)
    m.reset_order()
    if turn.stage in DRAFT_STAGES:
        return Use(T.CANCEL_ORDER, {"reason": "звонящий отказался от заказа"})
    if gathering:
        return _ask(m, Q.ANYTHING_ELSE, lines.nothing_to_cancel())
    if says_done(turn.caller_text):
        return Use(T.END_CALL, {"reason": "звонящему больше ничего не нужно"})
    # Nothing of this call to cancel: an order placed before; confirmed orders are the
    # operators' to cancel. A yes to the offer transfers (OFFERED_OPERATOR).
    return _ask(m, Q.ANYTHING_ELSE, lines.cancel_needs_operator())


def _drop_pending_choice(turn: Turn, m: GuidedMemory) -> Action:
    """ "нет, не надо" while a product is being chosen: that product is off, the list stays."""
    m.candidates, m.chosen, m.quantity = [], None, None
    if m.items:
        return _ask(m, Q.MORE_ITEMS)
    return _ask(m, Q.ANYTHING_ELSE, lines.nothing_to_cancel())


Handler = Callable[[Turn, GuidedMemory, Intent], Action | None]


def _need(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    request = classify_request(text)
    if request is Request.STATUS:
        return _status(turn, m, parse_digits(text))
    # "нет, спасибо" ends the call; "нет, хочу ещё молоко" is another order.
    refused = intent is Intent.NO and request is not Request.ORDER and not product_query(text)
    if request is Request.DONE or refused:
        return Use(T.END_CALL, {"reason": "звонящему больше ничего не нужно"})
    if request is Request.ORDER or product_query(text):
        m.reset_order()
        return _product(turn, m, intent)
    if intent is Intent.YES:
        return _ask(m, Q.NEED)  # "да" to "могу ещё помочь?": ask what exactly
    return None


def _status(turn: Turn, m: GuidedMemory, digits: str | None) -> Action:
    number = digits if digits and len(digits) >= 3 else None
    if turn.withheld:
        if number is None:
            return _ask(m, Q.ORDER_NUMBER)
        m.order_number = number
        if not turn.phone_known:
            m.after_phone = "status"
            return _ask(m, Q.CONTACT_PHONE, "Назовите номер телефона, на который оформлен заказ.")
    return Use(T.GET_ORDER_STATUS, {"order_number": number} if number else {})


def _order_number(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    digits = parse_digits(turn.caller_text)
    if not digits or len(digits) < 3 or len(digits) > 12:
        return None
    return _status(turn, m, digits)


def _choose_order(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    digits = parse_digits(text)
    numbers = [c.id for c in m.candidates]
    if digits and len(digits) >= 3:
        return _status(turn, m, digits)
    if len(numbers) > 3 and says_more(text):
        # "а остальные?": the next three come first; positions now count from them.
        m.candidates = m.candidates[3:] + m.candidates[:3]
        listed = [(c.id, c.name) for c in m.candidates]
        return _ask(m, Q.CHOOSE_ORDER, lines.orders_listed(listed, first=False))
    index = _position(text, min(len(numbers), 3))
    if index is None:
        return None
    return Use(T.GET_ORDER_STATUS, {"order_number": numbers[index]})


def _position(text: str, count: int) -> int | None:
    """Which of `count` read-out candidates: "второй", or a lone number — "два", or the
    digit pressed on the keypad (`Turn.caller_text` holds the keys then)."""
    index = parse_ordinal(text, count)
    if index is not None:
        return index
    if not _lone_number(text):
        return None  # "три пачки" is a quantity, not the third candidate
    digits = parse_digits(text)
    if digits is not None and len(digits) == 1 and 1 <= int(digits) <= count:
        return int(digits) - 1
    return None


# Words that may stand beside a number that picks a candidate ("давайте два", "номер три").
_CHOICE_FILLERS = frozenset(
    {"давайте", "давай", "ну", "вот", "тогда", "номер", "заказа", "пожалуйста", "лучше", "э"}
)


def _lone_number(text: str) -> bool:
    """Only number words (and a few fillers): no counted noun such as "пачки" or "штуки"."""
    words = re.findall(r"[а-яёa-z0-9]+", text.lower())
    return bool(words) and all(
        word in _CHOICE_FILLERS or parse_digits(word) is not None for word in words
    )


def _contact_phone(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    digits = parse_digits(turn.caller_text)
    if not digits or len(digits) < MIN_PHONE_DIGITS:
        return None
    m.question = Q.PHONE_READBACK  # the workflow reads the number back and asks "Верно?"
    m.asked = [lines.question(Q.PHONE_READBACK)]
    return Use(T.SET_CONTACT_PHONE, {"phone": digits})


def _phone_readback(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    if turn.phone_known:  # the workflow heard a plain yes and took the number
        if m.after_phone == "status" and m.order_number:
            return Use(T.GET_ORDER_STATUS, {"order_number": m.order_number})
        return _create_draft(turn, m)
    digits = parse_digits(turn.caller_text)
    if digits and len(digits) >= MIN_PHONE_DIGITS:
        return _contact_phone(turn, m, intent)
    if intent is Intent.UNKNOWN:
        return None
    return _ask(m, Q.CONTACT_PHONE, lines.phone_again())


def _product(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    query = product_query(text)
    if query is None or len(query) < 2:
        if m.question is Q.PRODUCT:
            return None
        return _ask(m, Q.PRODUCT)
    m.heard = text
    m.quantity = _quantity(text)
    return Use(T.SEARCH_PRODUCTS, {"query": query, "limit": 5})


def _quantity(text: str) -> int | None:
    quantity = parse_quantity(text)
    return quantity if quantity is not None and 1 <= quantity <= MAX_QUANTITY else None


def _product_or_done(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    """The answer to "Что-нибудь ещё?": another product, or the end of the list."""
    text = turn.caller_text
    if says_done(text):
        return _finish_items(turn, m)
    if product_query(text):  # also "нет, ещё молоко"
        return _product(turn, m, intent)
    if intent is Intent.NO:
        return _finish_items(turn, m)
    if intent is Intent.YES:
        return _ask(m, Q.PRODUCT, "Что ещё добавить?")
    return None


def _product_first(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    if m.items and (says_done(turn.caller_text) or intent is Intent.NO):
        return _finish_items(turn, m)
    if intent is Intent.NO and not product_query(turn.caller_text):
        return _drop_pending_choice(turn, m)
    return _product(turn, m, intent)


def _choose_product(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    index = _position(text, len(m.candidates))
    if index is None:
        ranked = match_products(text, [c.name for c in m.candidates])
        if ranked and (len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= CLEAR_LEAD):
            index = ranked[0][0]
    if index is None:
        if m.items and says_done(text):
            return _finish_items(turn, m)
        other = classify_request(text) is Request.ORDER or intent is Intent.NO
        if other and product_query(text):
            return _product(turn, m, intent)  # "нет, лучше кефир": another product
        if intent is Intent.NO:
            return _drop_pending_choice(turn, m)
        m.quantity = _quantity(text) or m.quantity  # "две", said before choosing
        return None
    # A lone "два" picked the second one; it says nothing about how many.
    said = None if _lone_number(text) else _quantity(text)
    quantity = _pack_free(said or m.quantity, m.candidates[index])
    return _chosen(turn, m, m.candidates[index], quantity, price=None)


def _pack_free(quantity: int | None, product: Candidate) -> int | None:
    """ "десяток яиц" names the pack "Яйца С1, 10 шт", not ten packs: ask how many."""
    if quantity is not None and str(quantity) in re.findall(r"\d+", product.name):
        return None
    return quantity


def _chosen(
    turn: Turn, m: GuidedMemory, product: Candidate, quantity: int | None, *, price: int | None
) -> Action:
    m.candidates = []
    if quantity is None:
        m.chosen = product
        return _ask(m, Q.QUANTITY, lines.product_quantity(product, price))
    return _add_item(turn, m, product, quantity)


def _add_item(turn: Turn, m: GuidedMemory, product: Candidate, quantity: int) -> Action:
    item = Item(product_id=product.id, name=product.name, quantity=quantity)
    m.chosen, m.quantity = None, None
    if m.replacing is not None:
        m.items = [i for i in m.items if i.product_id != m.replacing] + [item]
        m.replacing = None
        return _create_draft(turn, m)
    m.items = [i for i in m.items if i.product_id != item.product_id] + [item]
    return _ask(m, Q.MORE_ITEMS, lines.item_added(item))


def _quantity_answer(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    quantity = _quantity(turn.caller_text)
    if quantity is None:
        if intent is Intent.NO and m.chosen is not None:
            return _drop_pending_choice(turn, m)
        return None
    if m.chosen is not None:
        return _add_item(turn, m, m.chosen, quantity)
    if len(m.items) == 1:  # a changed quantity after the read-back
        m.items = [m.items[0].model_copy(update={"quantity": quantity})]
        return _create_draft(turn, m)
    return None


def _finish_items(turn: Turn, m: GuidedMemory) -> Action:
    if not m.items:
        return _ask(m, Q.PRODUCT)
    if not turn.phone_known:
        m.after_phone = "order"
        return _ask(m, Q.CONTACT_PHONE)
    return _create_draft(turn, m)


def _create_draft(turn: Turn, m: GuidedMemory) -> Action:
    if not m.items:
        return _ask(m, Q.PRODUCT)
    items = [{"product_id": i.product_id, "quantity": i.quantity} for i in m.items]
    return Use(T.CREATE_ORDER_DRAFT, {"items": items})


def _delivery_type(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    kind = delivery_kind(text)
    if kind == "pickup":
        place = _place(text)
        if place is None:
            return _ask(m, Q.PICKUP_PLACE)
        return Use(T.UPDATE_ORDER_DELIVERY, {"type": "pickup", "pickup_query": place})
    if kind == "courier" or _full_address(text):
        m.address = PartialAddress()
        return _address(turn, m, intent, quiet=True)
    if intent is Intent.NO and turn.stage in DRAFT_STAGES:
        return _cancel(turn, m)  # "не надо" while the delivery is asked: no order
    return None


def _place(text: str) -> str | None:
    """Where the caller wants to pick up: the words left after the pickup words ("заберу сам
    на Тверской" → "тверской"); the Store API matches them by similarity."""
    words = [w for w in (product_query(text) or "").split() if w not in _PICKUP_FILLERS]
    return " ".join(words) or None


_PICKUP_FILLERS = frozenset(
    {"забрать", "заберу", "сам", "сама", "самовывоз", "пункт", "выдача", "самый", "там",
     "улица", "район", "метро", "возле", "около", "рядом", "удобно", "удобный", "лучше",
     "тогда", "давайте", "значит", "наверное", "просто", "так", "хороший", "нет"}
)  # fmt: skip


def _full_address(text: str) -> bool:
    address = parse_address(text)
    return address is not None and bool(address.street and address.house)


def _address(turn: Turn, m: GuidedMemory, intent: Intent, *, quiet: bool = False) -> Action | None:
    if not quiet and delivery_kind(turn.caller_text) == "pickup":
        return _delivery_type(turn, m, intent)  # "тогда самовывоз"
    parsed = parse_address(turn.caller_text)
    current = m.address or PartialAddress()
    if parsed is not None:
        current = PartialAddress(
            city=parsed.city or current.city,
            street=parsed.street or current.street,
            house=parsed.house or current.house,
            apartment=parsed.apartment or current.apartment,
        )
    m.address = current
    if current.street and not current.house:
        return _ask(m, Q.ADDRESS, lines.house_please(current.street))  # "Тверская" alone
    if not (current.street and current.house):
        if quiet:
            return _ask(m, Q.ADDRESS)
        return None
    if not current.city:
        return _ask(m, Q.CITY)
    # The date is its own question: "дом семь" must not read as "the seventh".
    return _ask(m, Q.DATE)


def _city(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    city = parse_city(turn.caller_text)
    if city is None:
        whole = parse_address(turn.caller_text)  # "Москва, Тверская семь": said it all again
        return _address(turn, m, intent) if whole is not None and whole.city else None
    m.address = (m.address or PartialAddress()).model_copy(update={"city": city})
    return _ask(m, Q.DATE)


def _date(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    date = parse_delivery_date(turn.caller_text, turn.today)
    if date is None and not (wants_soonest(turn.caller_text) or intent is Intent.YES):
        return None
    return _courier(m, date)


def _courier(m: GuidedMemory, date: dt.date | None) -> Action:
    address = m.address or PartialAddress()
    arguments: dict[str, Any] = {
        "type": "courier",
        "address": {
            "city": address.city,
            "street": address.street,
            "house": address.house,
            "apartment": address.apartment,
        },
    }
    if date is not None:
        arguments["date"] = date.isoformat()
    m.date = date
    return Use(T.UPDATE_ORDER_DELIVERY, arguments)


def _pickup_place(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    if delivery_kind(turn.caller_text) == "courier":
        m.address = PartialAddress()
        return _address(turn, m, intent, quiet=True)
    place = _place(turn.caller_text)
    if place is None:
        return None
    return Use(T.UPDATE_ORDER_DELIVERY, {"type": "pickup", "pickup_query": place})


def _choose_pickup(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    index = _position(turn.caller_text, len(m.candidates))
    if index is None:
        ranked = match_products(turn.caller_text, [c.name for c in m.candidates])
        if ranked and (len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= CLEAR_LEAD):
            index = ranked[0][0]
    if index is None:
        return None
    point = m.candidates[index]
    m.candidates = []
    return Use(T.UPDATE_ORDER_DELIVERY, {"type": "pickup", "pickup_point_id": point.id})


def _ready_to_confirm(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    if intent is Intent.NO:
        return _ask(m, Q.CHANGE)
    m.question = Q.READBACK
    return Use(T.CONFIRM_ORDER)


def _readback(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    target = change_target(text)
    quantity = _quantity(text) if target in (None, "quantity") else None
    if intent is Intent.YES and target is None and quantity is None:
        if not is_plain_yes(text):
            # A yes with words the confirmation guard does not take ("да, наверное"): ask for
            # the plain yes instead of proposing what the workflow would refuse.
            return _ask(m, Q.READBACK, lines.say_yes_to_confirm())
        m.question = Q.ANYTHING_ELSE  # the workflow speaks the confirmation itself
        return Use(T.CONFIRM_ORDER)
    # "давайте не две, а три", "всё верно, только адрес другой": a change, not a yes.
    if intent is Intent.NO or target is not None or quantity is not None:
        return _change(turn, m, intent) or _ask(m, Q.CHANGE)
    return None  # "Извините, не поняла. Если всё верно, скажите «да»…"


def _change(turn: Turn, m: GuidedMemory, intent: Intent) -> Action | None:
    text = turn.caller_text
    target = change_target(text)
    quantity = _quantity(text)
    if quantity is not None and len(m.items) == 1 and target in (None, "quantity"):
        m.items = [m.items[0].model_copy(update={"quantity": quantity})]
        return _create_draft(turn, m)
    if target == "quantity":
        if len(m.items) == 1:
            return _ask(m, Q.QUANTITY)
        m.items = []
        return _ask(m, Q.PRODUCT, "Давайте соберём список заново. Какой товар первый?")
    if target == "items":
        m.items = []
        return _ask(m, Q.PRODUCT, "Давайте соберём список заново. Какой товар первый?")
    if target == "delivery":
        return _change_delivery(turn, m, intent)
    return None


def _change_delivery(turn: Turn, m: GuidedMemory, intent: Intent) -> Action:
    """ "нет, доставку на послезавтра", "квартира пятнадцать", "адрес другой", "лучше
    самовывоз": change what was named, keep the rest."""
    text = turn.caller_text
    if delivery_kind(text) == "pickup":
        return _delivery_type(turn, m, intent) or _ask(m, Q.PICKUP_PLACE)
    known = m.address if m.address and m.address.street and m.address.house else None
    parsed = parse_address(text)
    if parsed is not None and parsed.street and parsed.house:
        m.address = PartialAddress()
        return _address(turn, m, intent, quiet=True) or _ask(m, Q.ADDRESS)
    if known is not None and parsed is not None and parsed.apartment:
        # "квартира пятнадцать": the number is the flat, not the fifteenth.
        m.address = known.model_copy(update={"apartment": parsed.apartment})
        return _courier(m, m.date)
    date = parse_delivery_date(text, turn.today)
    if known is not None and date is not None:
        return _courier(m, date)
    if known is not None and mentions_date(text):
        return _ask(m, Q.DATE)
    if mentions_address(text) or known is None:
        m.address = PartialAddress()
        return _ask(m, Q.ADDRESS)
    return _ask(m, Q.DELIVERY_TYPE)


HANDLERS: dict[Question, Handler] = {
    Q.NEED: _need,
    Q.ANYTHING_ELSE: _need,
    Q.ORDER_NUMBER: _order_number,
    Q.CHOOSE_ORDER: _choose_order,
    Q.CONTACT_PHONE: _contact_phone,
    Q.PHONE_READBACK: _phone_readback,
    Q.PRODUCT: _product_first,
    Q.CHOOSE_PRODUCT: _choose_product,
    Q.QUANTITY: _quantity_answer,
    Q.MORE_ITEMS: _product_or_done,
    Q.DELIVERY_TYPE: _delivery_type,
    Q.ADDRESS: _address,
    Q.CITY: _city,
    Q.DATE: _date,
    Q.PICKUP_PLACE: _pickup_place,
    Q.CHOOSE_PICKUP: _choose_pickup,
    Q.READY_TO_CONFIRM: _ready_to_confirm,
    Q.READBACK: _readback,
    Q.CHANGE: _change,
}


# --- a tool answered ---------------------------------------------------------------------


def _after_tool(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    if result.error and result.code == ErrorType.STORE_UNAVAILABLE:
        return _ask(m, m.question, lines.store_trouble())
    react = REACTIONS.get(result.name)
    if react is None:
        return _ask(m, Q.ANYTHING_ELSE)
    return react(turn, result, m)


def _after_search(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    if result.error:
        return _ask(m, Q.PRODUCT, lines.nothing_found(m.heard))
    items: list[Mapping[str, Any]] = list(result.payload.get("items") or [])
    in_stock = [i for i in items if i.get("in_stock")]
    if m.replacing is not None:
        return _offer_replacement(m, in_stock)
    if not items:
        return _not_found(m)
    if not in_stock:
        return _ask(m, Q.PRODUCT, lines.only_out_of_stock(str(items[0]["name"])))
    names = [str(i["name"]) for i in in_stock]
    ranked = match_products(m.heard, names)
    if not ranked:
        # The catalogue search is broad ("невский" finds a baguette); only what matches the
        # caller's words is offered.
        return _not_found(m)
    chosen = [in_stock[index] for index, _ in ranked]
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] >= CLEAR_LEAD:
        chosen = chosen[:1]
    m.misunderstood = 0
    if len(chosen) == 1:
        product = _candidate(chosen[0])
        quantity = _pack_free(m.quantity, product)
        return _chosen(turn, m, product, quantity, price=_price(chosen[0]))
    m.candidates = [_candidate(i) for i in chosen[:3]]
    return _ask(m, Q.CHOOSE_PRODUCT, lines.products_found(m.candidates))


def _not_found(m: GuidedMemory) -> Action:
    m.misunderstood += 1
    if m.misunderstood >= MAX_MISUNDERSTOOD:
        return Use(T.TRANSFER_TO_OPERATOR, {"reason": "товар не найден"})
    return _ask(m, Q.PRODUCT, lines.nothing_found(product_query(m.heard) or m.heard))


def _offer_replacement(m: GuidedMemory, in_stock: list[Mapping[str, Any]]) -> Action:
    missing = next((i.name for i in m.items if i.product_id == m.replacing), "товар")
    others = [i for i in in_stock if i.get("product_id") != m.replacing][:3]
    if not others:
        m.items = [i for i in m.items if i.product_id != m.replacing]
        m.replacing = None
        return _ask(m, Q.PRODUCT, lines.sold_out(missing))
    m.candidates = [_candidate(i) for i in others]
    m.quantity = next((i.quantity for i in m.items if i.product_id == m.replacing), None)
    return _ask(m, Q.CHOOSE_PRODUCT, lines.alternatives(missing, m.candidates))


def _candidate(item: Mapping[str, Any]) -> Candidate:
    return Candidate(id=str(item["product_id"]), name=str(item["name"]))


def _price(item: Mapping[str, Any]) -> int | None:
    price = item.get("price_rub")
    return round(float(price) * 100) if isinstance(price, int | float) else None


def _after_draft(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    if result.error and result.code == ErrorCode.OUT_OF_STOCK:
        return _too_many(m, result)
    if result.error:
        return _ask(m, Q.ANYTHING_ELSE, lines.store_trouble())
    if result.payload.get("delivery") or result.payload.get("has_delivery"):
        m.question = Q.READBACK  # the delivery carried over: straight to the read-back
        return Use(T.CONFIRM_ORDER)
    total = result.payload.get("total_rub")
    kopecks = round(float(total) * 100) if isinstance(total, int | float) else 0
    return _ask(m, Q.DELIVERY_TYPE, lines.draft_ready(kopecks))


def _too_many(m: GuidedMemory, result: ToolResult) -> Action:
    """More than the stock: ask again for what is there, or drop the item when none is."""
    details = result.payload.get("details")
    details = details if isinstance(details, Mapping) else {}
    item = next((i for i in m.items if i.product_id == str(details.get("product_id"))), None)
    if item is None:
        m.items = []
        return _ask(m, Q.PRODUCT, lines.sold_out("один из товаров"))
    m.items = [i for i in m.items if i.product_id != item.product_id]
    available = details.get("available")
    if isinstance(available, int) and available > 0:
        m.chosen = Candidate(id=item.product_id, name=item.name)
        return _ask(m, Q.QUANTITY, lines.only_left(item.name, available))
    if m.items:
        return _ask(m, Q.MORE_ITEMS, lines.only_out_of_stock(item.name))
    return _ask(m, Q.PRODUCT, lines.only_out_of_stock(item.name))


def _after_delivery(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    payload = result.payload
    if "choose_one" in payload:
        m.candidates = [
            Candidate(id=str(p["pickup_point_id"]), name=f"{p['name']}, {p['address']}")
            for p in payload["choose_one"]
        ]
        return _ask(m, Q.CHOOSE_PICKUP, lines.pickup_points(m.candidates))
    if result.error:
        if result.code == ErrorCode.PICKUP_POINT_NOT_FOUND:
            return _ask(m, Q.PICKUP_PLACE, lines.pickup_not_found())
        details = payload.get("details")
        details = details if isinstance(details, Mapping) else {}
        if details.get("reason") == "date_unavailable":
            earliest = dt.date.fromisoformat(str(details["earliest"]))
            latest = dt.date.fromisoformat(str(details["latest"]))
            return _ask(m, Q.DATE, lines.dates_available(earliest, latest))
        if details.get("reason") == "city_not_served":
            served = [str(city) for city in details.get("served_cities") or []]
            city = (m.address.city if m.address else None) or str(details.get("city", ""))
            m.address = PartialAddress()
            return _ask(m, Q.ADDRESS, lines.city_not_served(city, served))
        m.address = PartialAddress()
        return _ask(m, Q.ADDRESS, "Не получилось с этим адресом. " + lines.question(Q.ADDRESS))
    m.question = Q.READBACK
    return Use(T.CONFIRM_ORDER)


def _after_confirm(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    if not result.error:
        return _ask(m, Q.ANYTHING_ELSE)
    if result.code == ErrorCode.OUT_OF_STOCK:
        details = result.payload.get("details")
        product_id = str(details.get("product_id")) if isinstance(details, Mapping) else ""
        missing = next((i for i in m.items if i.product_id == product_id), None)
        if missing is not None:
            m.replacing = missing.product_id
            query = product_query(missing.name) or missing.name
            return Use(T.SEARCH_PRODUCTS, {"query": query.split()[0], "limit": 5})
        m.items = []
        return _ask(m, Q.PRODUCT, lines.sold_out("один из товаров"))
    if turn.stage is Stage.DELIVERY:
        # The read-back was cut off or the order changed: it is read again.
        m.question = Q.READBACK
        return Use(T.CONFIRM_ORDER)
    if turn.stage is Stage.AWAITING_CONFIRMATION:
        return _ask(m, Q.READBACK, lines.say_yes_to_confirm())
    return _ask(m, Q.ANYTHING_ELSE, lines.store_trouble())


def _after_status(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    payload = result.payload
    if result.error and result.code == ErrorType.LOOKUP_LIMIT_REACHED:
        # No more numbers: a yes to the offer transfers (OFFERED_OPERATOR).
        m.order_number, m.candidates = None, []
        return _ask(m, Q.ANYTHING_ELSE, lines.lookup_limit())
    if result.error:
        if turn.withheld:
            return _ask(m, Q.ORDER_NUMBER)
        return _ask(m, Q.ANYTHING_ELSE, lines.store_trouble())
    if "say" in payload:  # one order, or "not found" in the same words for any reason
        m.candidates = []
        return _ask(m, Q.ANYTHING_ELSE, lines.with_anything_else(str(payload["say"])))
    orders: list[Mapping[str, Any]] = list(payload.get("active_orders") or [])
    if not orders:
        return _ask(m, Q.ANYTHING_ELSE, lines.no_active_orders())
    if len(orders) == 1:
        return _ask(m, Q.ANYTHING_ELSE, lines.with_anything_else(str(orders[0]["say"])))
    m.candidates = [Candidate(id=str(o["number"]), name=str(o["status"])) for o in orders]
    listed = [(c.id, c.name) for c in m.candidates]
    return _ask(m, Q.CHOOSE_ORDER, lines.orders_listed(listed))


def _after_cancel(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    if result.error:
        return _ask(m, Q.ANYTHING_ELSE, lines.store_trouble())
    m.reset_order()
    return _ask(m, Q.ANYTHING_ELSE, lines.cancelled())


def _after_phone(turn: Turn, result: ToolResult, m: GuidedMemory) -> Action:
    # Only an invalid number comes back here; a good one is read back by the workflow.
    return _ask(m, Q.CONTACT_PHONE, lines.phone_not_understood())


Reaction = Callable[[Turn, ToolResult, GuidedMemory], Action]

REACTIONS: dict[str, Reaction] = {
    T.SEARCH_PRODUCTS: _after_search,
    T.CREATE_ORDER_DRAFT: _after_draft,
    T.UPDATE_ORDER_DELIVERY: _after_delivery,
    T.CONFIRM_ORDER: _after_confirm,
    T.GET_ORDER_STATUS: _after_status,
    T.CANCEL_ORDER: _after_cancel,
    T.SET_CONTACT_PHONE: _after_phone,
}
