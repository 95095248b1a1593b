"""`AgentTools`: the agent's tools as the workflow runs them (tools.md, rules enforced in
code). Each call is checked against the stage table, gets what the agent must not decide
filled in (the caller's phone, idempotency keys), and runs its Store API activities;
`confirm_order` is the confirmation's (workflows/confirmation.py)."""

from __future__ import annotations

import json
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.agent import ToolCall
    from activities.interfaces.audit import AuditEvent
    from activities.interfaces.call_log import ToolCallLog
    from activities.interfaces.store import (
        CancelRequest,
        DeliveryRequest,
        DraftRequest,
        OrdersQuery,
        PickupQuery,
        ProductQuery,
        ProductRequest,
        StoreActivities,
    )
    from core.phones import InvalidPhone, mask_phone, mask_phones_in, normalise_phone
    from core.vocabulary import Action, CallOutcome, ErrorType, ToolName
    from prompts.tools import (
        CancelOrder,
        CreateOrderDraft,
        GetOrderStatus,
        GetProduct,
        SearchProducts,
        SetContactPhone,
        ToolArgs,
        ToolArgumentError,
        TransferToOperator,
        UpdateOrderDelivery,
        parse_arguments,
        tool_named,
    )
    from russian.readback import status_sentence
    from russian.yes_words import is_plain_yes
    from store_api.contract import (
        Address,
        CourierDeliveryIn,
        CreateOrder,
        CustomerRef,
        ErrorCode,
        OrderItemIn,
        PickupDeliveryIn,
    )
    from workflows import phrases
    from workflows.models import ORDER_NUMBER
    from workflows.stages import Event, allowed_tools, refusal
    from workflows.state import CallState, DraftState

from workflows.activity_options import ACTIVITY_FAILED, error_type, in_call
from workflows.confirmation import Confirmation, Heard, fingerprint
from workflows.lookup_limits import LookupGuard
from workflows.records import CallRecords, TurnLog
from workflows.tool_outcome import ToolOutcome, store_error

T = ToolName


class AgentTools:
    """The agent's tools. Its own state: none beyond what it shares — the call's state, its
    records, and the confirmation that owns `confirm_order`."""

    def __init__(self, s: CallState, records: CallRecords, confirmation: Confirmation) -> None:
        self.s = s
        self.records = records
        self.confirmation = confirmation
        self.lookups = LookupGuard(records.call, s, records)

    async def run(self, call: ToolCall, heard: Heard, log: TurnLog) -> ToolOutcome:
        started = workflow.time()
        args = parse_arguments(call.name, call.arguments)
        tool = tool_named(call.name)
        if isinstance(args, ToolArgumentError) or tool is None:
            message = args.message if isinstance(args, ToolArgumentError) else "Нет инструмента."
            outcome = ToolOutcome({"error": message}, error=True)
        elif tool not in allowed_tools(self.s.stage, withheld=self.s.withheld):
            outcome = ToolOutcome({"error": refusal(tool, self.s.stage)}, error=True, denied=True)
        else:
            outcome = await self._dispatch(tool, args, heard)
        ms = (workflow.time() - started) * 1000
        log.tools_ms += ms
        log.tools.append(
            ToolCallLog(
                name=call.name,
                arguments=_json_safe(call.arguments),
                outcome="denied" if outcome.denied else "error" if outcome.error else "ok",
                error_code=str(outcome.payload.get("code")) if outcome.error else None,
                ms=ms,
            )
        )
        return outcome

    async def _dispatch(self, tool: ToolName, args: ToolArgs, heard: Heard) -> ToolOutcome:
        match tool, args:
            case T.SEARCH_PRODUCTS, SearchProducts():
                return await self._search_products(args)
            case T.GET_PRODUCT, GetProduct():
                return await self._get_product(args)
            case T.GET_ORDER_STATUS, GetOrderStatus():
                return await self._order_status(args)
            case T.CREATE_ORDER_DRAFT, CreateOrderDraft():
                return await self._create_draft(args)
            case T.UPDATE_ORDER_DELIVERY, UpdateOrderDelivery():
                return await self._set_delivery(args)
            case T.CONFIRM_ORDER, _:
                return await self.confirmation.confirm(heard)
            case T.CANCEL_ORDER, CancelOrder():
                return await self.cancel(args)
            case T.TRANSFER_TO_OPERATOR, TransferToOperator():
                return await self.transfer(args)
            case T.END_CALL, _:
                return self.end_call()
            case T.SET_CONTACT_PHONE, SetContactPhone():
                return self._set_contact_phone(args)
        return ToolOutcome({"error": f"Инструмент {tool} не поддерживается."}, error=True)

    async def _search_products(self, args: SearchProducts) -> ToolOutcome:
        try:
            found = await in_call(
                StoreActivities.search_products,
                ProductQuery(query=args.query, limit=args.limit or 3),
                summary=f"search products «{args.query}»",
            )
        except ACTIVITY_FAILED as exc:
            return store_error(self.s, exc, "Поиск не удался")
        items = [
            {
                "product_id": p.id,
                "name": p.name,
                "price_rub": p.price / 100,
                "in_stock": p.stock_qty > 0,
                "stock_qty": p.stock_qty,
                "unit": p.unit,
            }
            for p in found.items
        ]
        return ToolOutcome({"items": items, "found": len(items)})

    async def _get_product(self, args: GetProduct) -> ToolOutcome:
        try:
            product = await in_call(
                StoreActivities.get_product,
                ProductRequest(product_id=args.product_id),
                summary=f"product {args.product_id[:8]}",
            )
        except ACTIVITY_FAILED as exc:
            return store_error(self.s, exc, "Товар не найден")
        return ToolOutcome(
            {
                "product_id": product.id,
                "name": product.name,
                "description": product.description,
                "price_rub": product.price / 100,
                "stock_qty": product.stock_qty,
            }
        )

    async def _order_status(self, args: GetOrderStatus) -> ToolOutcome:
        phone = self.s.verified_phone
        if self.s.withheld and (phone is None or args.order_number is None):
            return ToolOutcome(
                {
                    "error": "Номер скрыт: нужны номер заказа и номер телефона, на который он "
                    "оформлен (set_contact_phone), и подтверждение номера.",
                },
                error=True,
            )
        assert phone is not None
        if args.order_number is not None:
            refused = await self.lookups.refusal(args.order_number, phone)
            if refused is not None:
                return refused
        try:
            found = await in_call(
                StoreActivities.find_orders,
                OrdersQuery(phone=phone, number=args.order_number),
                # A caller may say a phone number where the order number belongs.
                summary=f"orders of {mask_phone(phone)}"
                + (f" №{mask_phones_in(args.order_number)}" if args.order_number else ""),
            )
        except ACTIVITY_FAILED as exc:
            return store_error(self.s, exc, "Не удалось узнать статус")
        today = self.records.today()
        if args.order_number is not None and found.order is None:
            self.lookups.failed()
            self.records.audit(
                AuditEvent.ORDER_LOOKUP_DENIED,
                order_number=args.order_number,
                details={"reason": "foreign" if found.foreign else "unknown"},
            )
            return ToolOutcome(
                {"found": False, "say": "Не нашла заказ с таким номером на ваш номер телефона."}
            )
        if found.order is not None:
            order = found.order
            self.records.audit(
                AuditEvent.ORDER_STATUS_VIEWED, order_id=order.id, order_number=order.number
            )
            return ToolOutcome(
                {
                    "found": True,
                    "number": order.number,
                    "status": order.status_text_ru,
                    "say": status_sentence(order, today),
                    "total_rub": order.total / 100,
                    "items": [f"{i.name} × {i.quantity}" for i in order.items[:3]],
                }
            )
        active = [o for o in found.orders if o.status.is_active]
        for summary in active[:3]:
            self.records.audit(
                AuditEvent.ORDER_STATUS_VIEWED, order_id=summary.id, order_number=summary.number
            )
        return ToolOutcome(
            {
                "active_orders": [
                    {
                        "number": o.number,
                        "status": o.status_text_ru,
                        "say": status_sentence(o, today),
                    }
                    for o in active
                ],
                "count": len(active),
            }
        )

    async def _create_draft(self, args: CreateOrderDraft) -> ToolOutcome:
        phone = self.s.verified_phone
        if phone is None:
            return ToolOutcome(
                {"error": "Номер скрыт: сначала спросите номер для SMS (set_contact_phone)."},
                error=True,
            )
        previous = self.s.draft
        if previous is not None:
            cancelled = await self.cancel_draft(previous, reason="replaced by a new draft")
            if not cancelled:
                return ToolOutcome(
                    {"error": "Не удалось заменить черновик.", "code": ErrorType.STORE_UNAVAILABLE},
                    error=True,
                )
        key = self.records.key("draft")
        try:
            order = await in_call(
                StoreActivities.create_draft,
                DraftRequest(
                    order=CreateOrder(
                        customer=CustomerRef(
                            phone=phone, name=args.customer_name or self.s.customer_name
                        ),
                        items=[
                            OrderItemIn(product_id=i.product_id, quantity=i.quantity)
                            for i in args.items
                        ],
                        channel="voice",
                        call_id=self.s.call_id,
                    ),
                    idempotency_key=key,
                ),
                summary=f"create draft ({len(args.items)} items)",
            )
        except ACTIVITY_FAILED as exc:
            if previous is not None:
                self.records.move(Event.CANCELLED)
            return store_error(self.s, exc, "Черновик не создан")
        self.s.draft = DraftState(
            order_id=order.id,
            number=order.number,
            total=order.total,
            fingerprint=fingerprint(order),
        )
        self.s.readback = None
        self.s.last_order = order
        self.records.move(Event.DRAFT_CREATED)
        workflow.upsert_search_attributes([ORDER_NUMBER.value_set(order.number)])
        self.records.audit(
            AuditEvent.ORDER_DRAFT_REPLACED if previous else AuditEvent.ORDER_DRAFT_CREATED,
            order_id=order.id,
            order_number=order.number,
            details={"items": [i.model_dump() for i in args.items], "total": order.total},
        )
        if previous is not None and previous.delivery is not None:
            reapplied = await self._apply_delivery(previous.delivery)
            if not reapplied.error:
                return ToolOutcome(
                    {**self._draft_payload(), "delivery": "сохранена прежняя доставка"}
                )
        return ToolOutcome(self._draft_payload())

    def _draft_payload(self) -> dict[str, Any]:
        order = self.s.last_order
        assert order is not None
        return {
            "order_number": order.number,
            "items": [
                {"name": i.name, "quantity": i.quantity, "line_total_rub": i.line_total / 100}
                for i in order.items
            ],
            "items_total_rub": order.items_total / 100,
            "delivery_cost_rub": order.delivery_cost / 100,
            "total_rub": order.total / 100,
            "has_delivery": order.delivery is not None,
        }

    async def _set_delivery(self, args: UpdateOrderDelivery) -> ToolOutcome:
        delivery: CourierDeliveryIn | PickupDeliveryIn
        if args.type == "courier":
            if args.address is None:
                return ToolOutcome(
                    {"error": "Для курьера нужен адрес: город, улица, дом."}, error=True
                )
            delivery = CourierDeliveryIn(
                type="courier",
                address=Address(
                    city=args.address.city,
                    street=args.address.street,
                    house=args.address.house,
                    apartment=args.address.apartment,
                ),
                date=args.date,
            )
        else:
            point_id = args.pickup_point_id
            if point_id is None:
                if not (args.pickup_query or args.city):
                    return ToolOutcome(
                        {"error": "Нужен пункт выдачи: его id или описание."}, error=True
                    )
                try:
                    found = await in_call(
                        StoreActivities.find_pickup_points,
                        PickupQuery(city=args.city, query=args.pickup_query),
                        summary=f"pickup points «{args.pickup_query or args.city}»",
                    )
                except ACTIVITY_FAILED as exc:
                    return store_error(self.s, exc, "Пункты выдачи недоступны")
                if not found.items:
                    return ToolOutcome(
                        {
                            "error": "Не нашла такой пункт выдачи.",
                            "code": ErrorCode.PICKUP_POINT_NOT_FOUND,
                        },
                        error=True,
                    )
                if len(found.items) > 1:
                    return ToolOutcome(
                        {
                            "choose_one": [
                                {"pickup_point_id": p.id, "name": p.name, "address": p.address}
                                for p in found.items[:3]
                            ],
                            "say": "Предложите звонящему выбрать один из пунктов.",
                        }
                    )
                point_id = found.items[0].id
            delivery = PickupDeliveryIn(type="pickup", pickup_point_id=point_id)
        return await self._apply_delivery(delivery)

    async def _apply_delivery(self, delivery: CourierDeliveryIn | PickupDeliveryIn) -> ToolOutcome:
        draft = self.s.draft
        if draft is None:
            return ToolOutcome({"error": "Нет черновика."}, error=True)
        try:
            order = await in_call(
                StoreActivities.set_delivery,
                DeliveryRequest(order_id=draft.order_id, delivery=delivery),
                summary=f"delivery for order {draft.number}: {delivery.type}",
            )
        except ACTIVITY_FAILED as exc:
            return store_error(self.s, exc, "Доставка не установлена")
        draft.delivery, draft.has_delivery = delivery, True
        draft.total, draft.fingerprint = order.total, fingerprint(order)
        self.s.last_order, self.s.readback = order, None
        self.records.move(Event.DELIVERY_SET)
        self.records.audit(
            AuditEvent.ORDER_DELIVERY_SET,
            order_id=order.id,
            order_number=order.number,
            details={
                "type": delivery.type,
                "delivery_cost": order.delivery_cost,
                "total": order.total,
            },
        )
        return ToolOutcome({**self._draft_payload(), "estimated_date": str(order.estimated_date)})

    async def cancel(self, args: CancelOrder) -> ToolOutcome:
        draft = self.s.draft
        if draft is None:
            return ToolOutcome({"error": "Нет заказа, который можно отменить."}, error=True)
        if not await self.cancel_draft(draft, reason=args.reason):
            return ToolOutcome(
                {"error": "Не удалось отменить заказ.", "code": ErrorType.STORE_UNAVAILABLE},
                error=True,
            )
        self.records.move(Event.CANCELLED)
        return ToolOutcome({"cancelled": True, "order_number": draft.number})

    async def cancel_draft(self, draft: DraftState, *, reason: str) -> bool:
        try:
            await in_call(
                StoreActivities.cancel_order,
                CancelRequest(
                    order_id=draft.order_id,
                    reason=reason,
                    idempotency_key=self.records.key("cancel"),
                ),
                summary=f"cancel order {draft.number}",
            )
        except ACTIVITY_FAILED as exc:
            self.s.last_error = error_type(exc)
            return False
        self.s.draft, self.s.readback = None, None
        self.records.audit(
            AuditEvent.ORDER_CANCELLED,
            order_id=draft.order_id,
            order_number=draft.number,
            details={"reason": reason},
        )
        return True

    def end_call(self) -> ToolOutcome:
        """Goodbye; the edge hangs up after it, post-call work follows."""
        self.records.finish(CallOutcome.COMPLETED)
        return ToolOutcome(
            {"ok": True}, speech=phrases.goodbye(), action=Action.HANGUP, ends_turn=True
        )

    async def transfer(self, args: TransferToOperator) -> ToolOutcome:
        self.records.audit(
            AuditEvent.CALL_TRANSFERRED,
            order_number=self.s.order_number or None,
            details={"reason": args.reason},
        )
        self.records.move(Event.TRANSFERRED)
        self.s.ended, self.s.outcome = True, CallOutcome.TRANSFERRED
        return ToolOutcome(
            {"ok": True}, speech=phrases.transfer(), action=Action.TRANSFER, ends_turn=True
        )

    def _set_contact_phone(self, args: SetContactPhone) -> ToolOutcome:
        try:
            phone = normalise_phone(args.phone)
        except InvalidPhone:
            return ToolOutcome(
                {"error": "Это не похоже на номер телефона. Переспросите."}, error=True
            )
        self.s.pending_contact_phone = phone
        return ToolOutcome(
            {"readback": "номер зачитан"}, speech=phrases.phone_readback(phone), ends_turn=True
        )

    def settle_contact_phone(self, text: str) -> None:
        phone, self.s.pending_contact_phone = self.s.pending_contact_phone, None
        if is_plain_yes(text):
            self.s.contact_phone = phone
            note = "Система: звонящий подтвердил номер телефона."
        else:
            note = "Система: номер телефона не подтверждён; переспросите его."
        self.s.messages.append({"role": "system", "content": note})


# The call log keeps a tool's arguments as JSON when they are a small, flat-enough object;
# anything else (broken JSON, nesting past the parser's or pydantic's depth, megabytes from
# a misbehaving model) as the first characters of the raw text. Raising here would fail the
# workflow task.
LOGGED_ARGUMENTS_CHARS = 2000
LOGGED_ARGUMENTS_DEPTH = 8


def _json_safe(arguments: str) -> dict[str, Any]:
    raw = {"raw": arguments[:200]}
    if len(arguments) > LOGGED_ARGUMENTS_CHARS:
        return {**raw, "chars": len(arguments)}
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return raw
    if _nested_deeper_than(parsed, LOGGED_ARGUMENTS_DEPTH):
        return raw
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _nested_deeper_than(value: Any, levels: int) -> bool:
    """Whether objects and arrays nest more than `levels` deep (looks no deeper than that)."""
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    if not children:
        return False
    if levels == 0:
        return True
    return any(_nested_deeper_than(child, levels - 1) for child in children)
