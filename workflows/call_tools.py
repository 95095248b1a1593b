"""The agent's tools as the workflow runs them (tools.md: rules enforced in code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agent import ToolCall
    from activities.audit import AuditEvent
    from activities.call_log import ToolCallLog
    from activities.store import (
        CancelRequest,
        ConfirmRequest,
        DeliveryRequest,
        DraftRequest,
        OrderRequest,
        OrdersFound,
        OrdersQuery,
        PickupPointsFound,
        PickupQuery,
        ProductQuery,
        ProductRequest,
        ProductsFound,
    )
    from core.phones import InvalidPhone, mask_phone, normalise_phone
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
    )
    from russian.readback import status_sentence
    from russian.sms import confirmation_sms
    from store_api.contract import (
        Address,
        CourierDeliveryIn,
        CreateOrder,
        CustomerRef,
        Order,
        OrderItemIn,
        PickupDeliveryIn,
        Product,
    )
    from workflows import phrases
    from workflows.confirmation import ReadbackGuard, is_plain_yes
    from workflows.models import (
        Action,
    )
    from workflows.stages import (
        Event,
        Stage,
        allowed_tools,
        refusal,
    )
    from workflows.state import (
        ConfirmedOrder,
        ConfirmJob,
        DraftState,
        ReadbackState,
    )

from workflows.activity_options import ACTIVITY_FAILED, IN_CALL, error_details, error_type
from workflows.call_records import (
    ORDER_NUMBER,
    CallRecords,
    TurnLog,
)


@dataclass
class ToolOutcome:
    """What a tool call produced: a result for the LLM, and maybe words the bot says itself."""

    payload: dict[str, Any]
    error: bool = False
    denied: bool = False
    speech: list[str] | None = None
    action: Action = "continue"
    ends_turn: bool = False


def fingerprint(order: Order) -> str:
    items = ",".join(f"{i.product_id}x{i.quantity}@{i.unit_price}" for i in order.items)
    delivery = order.delivery.model_dump_json() if order.delivery else "-"
    return f"{order.total}|{items}|{delivery}"


class CallTools(CallRecords):
    """The agent's tools: each checks the stage, fills in what the LLM must not decide and
    runs its activities; confirmation speaks the workflow's own read-back."""

    async def _run_tool(self, call: ToolCall, log: TurnLog) -> ToolOutcome:
        started = workflow.time()
        args = parse_arguments(call.name, call.arguments)
        if isinstance(args, ToolArgumentError):
            outcome = ToolOutcome({"error": args.message}, error=True)
        elif call.name not in allowed_tools(self.s.stage, withheld=self.s.withheld):
            outcome = ToolOutcome(
                {"error": refusal(call.name, self.s.stage)}, error=True, denied=True
            )
        else:
            outcome = await self._dispatch(call.name, args)
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

    async def _dispatch(self, name: str, args: ToolArgs) -> ToolOutcome:
        match name, args:
            case "search_products", SearchProducts():
                return await self._search_products(args)
            case "get_product", GetProduct():
                return await self._get_product(args)
            case "get_order_status", GetOrderStatus():
                return await self._order_status(args)
            case "create_order_draft", CreateOrderDraft():
                return await self._create_draft(args)
            case "update_order_delivery", UpdateOrderDelivery():
                return await self._set_delivery(args)
            case "confirm_order", _:
                return await self._confirm()
            case "cancel_order", CancelOrder():
                outcome = await self._cancel(args)
                return outcome
            case "transfer_to_operator", TransferToOperator():
                return await self._transfer(args)
            case "end_call", _:
                self._finish("completed")
                return ToolOutcome(
                    {"ok": True}, speech=phrases.goodbye(), action="hangup", ends_turn=True
                )
            case "set_contact_phone", SetContactPhone():
                return self._set_contact_phone(args)
        return ToolOutcome({"error": f"Инструмент {name} не поддерживается."}, error=True)

    async def _store(self, activity: str, arg: Any, result_type: type[Any], summary: str) -> Any:
        return await workflow.execute_local_activity(
            activity,
            arg,
            result_type=result_type,
            summary=summary,
            **IN_CALL,
        )

    def _store_error(self, exc: BaseException, what: str) -> ToolOutcome:
        kind = error_type(exc)
        self.s.last_error = kind
        if kind == "StoreUnavailable":
            return ToolOutcome(
                {
                    "error": "Сервис магазина недоступен. Извинитесь и предложите оператора.",
                    "code": kind,
                },
                error=True,
            )
        details = error_details(exc)
        return ToolOutcome({"error": f"{what}: {kind}", "code": kind, **details}, error=True)

    async def _search_products(self, args: SearchProducts) -> ToolOutcome:
        try:
            found: ProductsFound = await self._store(
                "search_products",
                ProductQuery(query=args.query, limit=args.limit or 3),
                ProductsFound,
                f"search products «{args.query}»",
            )
        except ACTIVITY_FAILED as exc:
            return self._store_error(exc, "Поиск не удался")
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
            product: Product = await self._store(
                "get_product",
                ProductRequest(product_id=args.product_id),
                Product,
                f"product {args.product_id[:8]}",
            )
        except ACTIVITY_FAILED as exc:
            return self._store_error(exc, "Товар не найден")
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
        try:
            found: OrdersFound = await self._store(
                "find_orders",
                OrdersQuery(phone=phone, number=args.order_number),
                OrdersFound,
                f"orders of {mask_phone(phone)}"
                + (f" №{args.order_number}" if args.order_number else ""),
            )
        except ACTIVITY_FAILED as exc:
            return self._store_error(exc, "Не удалось узнать статус")
        today = self._today()
        if args.order_number is not None and found.order is None:
            self._audit(
                AuditEvent.ORDER_LOOKUP_DENIED,
                order_number=args.order_number,
                details={"reason": "foreign" if found.foreign else "unknown"},
            )
            return ToolOutcome(
                {"found": False, "say": "Не нашла заказ с таким номером на ваш номер телефона."}
            )
        if found.order is not None:
            order = found.order
            self._audit(
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
            self._audit(
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
            cancelled = await self._cancel_draft(previous, reason="replaced by a new draft")
            if not cancelled:
                return ToolOutcome(
                    {"error": "Не удалось заменить черновик.", "code": "StoreUnavailable"},
                    error=True,
                )
        key = self._key("draft")
        try:
            order: Order = await self._store(
                "create_draft",
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
                Order,
                f"create draft ({len(args.items)} items)",
            )
        except ACTIVITY_FAILED as exc:
            if previous is not None:
                self._move(Event.CANCELLED)
            return self._store_error(exc, "Черновик не создан")
        self.s.draft = DraftState(
            order_id=order.id,
            number=order.number,
            total=order.total,
            fingerprint=fingerprint(order),
        )
        self.s.readback = None
        self.s.last_order = order
        self._move(Event.DRAFT_CREATED)
        workflow.upsert_search_attributes([ORDER_NUMBER.value_set(order.number)])
        self._audit(
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
                    found: PickupPointsFound = await self._store(
                        "find_pickup_points",
                        PickupQuery(city=args.city, query=args.pickup_query),
                        PickupPointsFound,
                        f"pickup points «{args.pickup_query or args.city}»",
                    )
                except ACTIVITY_FAILED as exc:
                    return self._store_error(exc, "Пункты выдачи недоступны")
                if not found.items:
                    return ToolOutcome(
                        {"error": "Не нашла такой пункт выдачи.", "code": "PICKUP_POINT_NOT_FOUND"},
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
            order: Order = await self._store(
                "set_delivery",
                DeliveryRequest(order_id=draft.order_id, delivery=delivery),
                Order,
                f"delivery for order {draft.number}: {delivery.type}",
            )
        except ACTIVITY_FAILED as exc:
            return self._store_error(exc, "Доставка не установлена")
        draft.delivery, draft.has_delivery = delivery, True
        draft.total, draft.fingerprint = order.total, fingerprint(order)
        self.s.last_order, self.s.readback = order, None
        self._move(Event.DELIVERY_SET)
        self._audit(
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

    async def _confirm(self) -> ToolOutcome:
        draft = self.s.draft
        if draft is None or not draft.has_delivery:
            return ToolOutcome({"error": "Сначала нужна доставка."}, error=True)
        if self.s.stage is Stage.DELIVERY:
            return await self._speak_readback(draft, prefix=[])
        verdict = ReadbackGuard.check(
            self.s.readback,
            current_fingerprint=draft.fingerprint,
            caller_text=self._caller_text,
            dtmf=self._dtmf,
        )
        if not verdict.ok:
            if self.s.readback is None or self.s.readback.played_to_end is not True:
                self._move(Event.READBACK_VOIDED)
            return ToolOutcome({"error": verdict.missing}, error=True)
        assert self.s.readback is not None
        self._move(Event.CONFIRM_STARTED)
        job = ConfirmJob(
            order_id=draft.order_id,
            number=draft.number,
            expected_total=self.s.readback.total,
            idempotency_key=self._key("confirm"),
        )
        try:
            order: Order = await self._store(
                "confirm_order",
                ConfirmRequest(
                    order_id=job.order_id,
                    expected_total=job.expected_total,
                    idempotency_key=job.idempotency_key,
                ),
                Order,
                f"confirm order {job.number}",
            )
        except ACTIVITY_FAILED as exc:
            return await self._confirm_failed(exc, job, draft)
        self._on_confirmed(order)
        return ToolOutcome(
            {"confirmed": True, "order_number": order.number},
            speech=phrases.confirmed(order, sms=True),
            ends_turn=True,
        )

    async def _speak_readback(self, draft: DraftState, prefix: list[str]) -> ToolOutcome:
        try:
            order: Order = await self._store(
                "get_order",
                OrderRequest(order_id=draft.order_id),
                Order,
                f"read order {draft.number}",
            )
        except ACTIVITY_FAILED as exc:
            return self._store_error(exc, "Не удалось прочитать заказ")
        draft.total, draft.fingerprint = order.total, fingerprint(order)
        self.s.last_order = order
        sentences = prefix + phrases.order_readback(order, self._today())
        self.s.readback = ReadbackState(
            reply_id=self.s.reply_id + 1,
            order_id=order.id,
            fingerprint=draft.fingerprint,
            total=order.total,
        )
        if self.s.stage is not Stage.AWAITING_CONFIRMATION:
            self._move(Event.READBACK_SPOKEN)
        self._audit(
            AuditEvent.ORDER_READBACK_SPOKEN,
            order_id=order.id,
            order_number=order.number,
            details={"total": order.total, "text": " ".join(sentences)},
        )
        return ToolOutcome({"readback": "зачитано, ждём ответа"}, speech=sentences, ends_turn=True)

    async def _confirm_failed(
        self, exc: BaseException, job: ConfirmJob, draft: DraftState
    ) -> ToolOutcome:
        kind = error_type(exc)
        self.s.last_error = kind
        self._audit(
            AuditEvent.ORDER_CONFIRM_FAILED,
            order_id=job.order_id,
            order_number=job.number,
            details={"error": kind, **error_details(exc)},
        )
        if kind == "StoreUnavailable":
            self.s.confirm_job = job  # the run loop retries it, during and after the call
            return ToolOutcome(
                {"postponed": True}, speech=phrases.confirm_postponed(), ends_turn=True
            )
        self._move(Event.READBACK_VOIDED)
        self.s.readback = None
        if kind == "TotalMismatch":
            return await self._speak_readback(draft, prefix=[phrases.price_changed()])
        return self._store_error(exc, "Заказ не подтверждён")

    def _on_confirmed(self, order: Order) -> None:
        self._move(Event.CONFIRMED)
        self.s.draft, self.s.readback, self.s.confirm_job = None, None, None
        self.s.last_order = order
        self.s.confirmed.append(
            ConfirmedOrder(
                order_id=order.id,
                number=order.number,
                total=order.total,
                sms_text=confirmation_sms(order),
                sms_key=f"{self.s.call_id}:sms:{order.number}",
            )
        )
        self._set_attention("")
        self._audit(
            AuditEvent.ORDER_CONFIRMED,
            order_id=order.id,
            order_number=order.number,
            details={"total": order.total},
        )

    async def _cancel(self, args: CancelOrder) -> ToolOutcome:
        draft = self.s.draft
        if draft is None:
            return ToolOutcome({"error": "Нет заказа, который можно отменить."}, error=True)
        if not await self._cancel_draft(draft, reason=args.reason):
            return ToolOutcome(
                {"error": "Не удалось отменить заказ.", "code": "StoreUnavailable"}, error=True
            )
        self._move(Event.CANCELLED)
        return ToolOutcome({"cancelled": True, "order_number": draft.number})

    async def _cancel_draft(self, draft: DraftState, *, reason: str) -> bool:
        try:
            await self._store(
                "cancel_order",
                CancelRequest(
                    order_id=draft.order_id, reason=reason, idempotency_key=self._key("cancel")
                ),
                Order,
                f"cancel order {draft.number}",
            )
        except ACTIVITY_FAILED as exc:
            self.s.last_error = error_type(exc)
            return False
        self.s.draft, self.s.readback = None, None
        self._audit(
            AuditEvent.ORDER_CANCELLED,
            order_id=draft.order_id,
            order_number=draft.number,
            details={"reason": reason},
        )
        return True

    async def _transfer(self, args: TransferToOperator) -> ToolOutcome:
        self._audit(
            AuditEvent.CALL_TRANSFERRED,
            order_number=self.s.order_number or None,
            details={"reason": args.reason},
        )
        self._move(Event.TRANSFERRED)
        self.s.ended, self.s.outcome = True, "transferred"
        return ToolOutcome(
            {"ok": True}, speech=phrases.transfer(), action="transfer", ends_turn=True
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

    def _settle_contact_phone(self, text: str) -> None:
        phone, self.s.pending_contact_phone = self.s.pending_contact_phone, None
        if is_plain_yes(text):
            self.s.contact_phone = phone
            note = "Система: звонящий подтвердил номер телефона."
        else:
            note = "Система: номер телефона не подтверждён; переспросите его."
        self.s.messages.append({"role": "system", "content": note})


def _json_safe(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"raw": arguments[:200]}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
