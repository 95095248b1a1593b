"""CallWorkflow: one durable workflow per phone call (dialog.md, tools.md).

Turns arrive as the `caller_said` update and get their reply in the same round trip. The
LLM only proposes tools; this code checks each proposal against the stage table, fills in
what the LLM must not decide (phone, idempotency keys, expected totals), runs activities,
and speaks the deterministic parts (greeting, read-back, confirmation) itself. After the
caller hangs up the workflow finishes its post-call work on its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NotRequired, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.agent import AgentReply, AgentRequest, ToolCall
    from activities.audit import AuditEvent, AuditRecord
    from activities.call_log import CallEnded, CallStarted, ToolCallLog, TurnRecord, TurnTimings
    from activities.sms import SmsRequest
    from activities.store import (
        CancelRequest,
        ConfirmRequest,
        DeliveryRequest,
        DraftRequest,
        IdentifyRequest,
        Identity,
        OrderRequest,
        OrdersFound,
        OrdersQuery,
        PickupPointsFound,
        PickupQuery,
        ProductQuery,
        ProductRequest,
        ProductsFound,
    )
    from prompts import CallerContext, render_system_prompt
    from store_api.contract import (
        STORE_TZ,
        Address,
        CourierDeliveryIn,
        CreateOrder,
        CustomerRef,
        Order,
        OrderItemIn,
        PickupDeliveryIn,
        Product,
    )
    from voiceorder.phones import InvalidPhone, mask_phone, normalise_phone
    from voiceorder.russian.readback import status_sentence
    from voiceorder.russian.sms import confirmation_sms
    from voiceorder.russian.text import normalise_for_tts, split_sentences
    from workflows import phrases
    from workflows.confirmation import Readback, ReadbackGuard, is_plain_yes
    from workflows.models import (
        MAX_UTTERANCE_CHARS,
        Action,
        CallerTurn,
        CallInput,
        DtmfTurn,
        HangUp,
        PlaybackReport,
        Reply,
    )
    from workflows.stages import (
        DRAFT_STAGES,
        Event,
        Stage,
        allowed_tools,
        can,
        next_stage,
        refusal,
    )
    from workflows.state import (
        CallState,
        ConfirmedOrder,
        ConfirmJob,
        DraftState,
        ReadbackState,
    )
    from workflows.tools import (
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

CALL_STAGE = SearchAttributeKey.for_keyword("CallStage")
CALLER_PHONE = SearchAttributeKey.for_keyword("CallerPhone")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
CALL_OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
ATTENTION = SearchAttributeKey.for_keyword("Attention")

MAX_TOOL_CALLS_PER_TURN = 5
MAX_CONSECUTIVE_TOOL_ERRORS = 3
MAX_SILENCES = 3
# With no input at all for this long the edge is gone (it sends silence every few seconds).
EDGE_LOST_AFTER = timedelta(minutes=10)
KEEP_MESSAGES = 60  # LLM context carried over continue-as-new


# Short Store API calls while the caller waits: local activities (one server round trip
# fewer per call, see README "Turn latency"); the client retries inside.
class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    schedule_to_close_timeout: NotRequired[timedelta]


IN_CALL = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=200)),
)
AGENT = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        maximum_attempts=2,
        initial_interval=timedelta(milliseconds=300),
        non_retryable_error_types=["LlmNotConfigured", "LlmBadRequest"],
    ),
)
# Work that must finish however long an outage lasts (post-call, audit, SMS).
DURABLE = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    schedule_to_close_timeout=timedelta(days=3),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
)
# One round of a step retried for as long as an outage lasts: a single attempt (the Store
# API client retries inside it); the workflow itself waits between rounds, on timers, so it
# can show progress ("round 7"), raise Attention, and be fast-forwarded in tests.
ROUND = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    retry_policy=RetryPolicy(maximum_attempts=1),
)
ROUND_PAUSE_MAX = timedelta(minutes=10)


def round_pause(rounds: int) -> timedelta:
    """2 s, 4 s, 8 s, … up to ten minutes between rounds."""
    return min(ROUND_PAUSE_MAX, timedelta(seconds=2 ** min(rounds, 10)))


@dataclass
class ToolOutcome:
    """What a tool call produced: a result for the LLM, and maybe words the bot says itself."""

    payload: dict[str, Any]
    error: bool = False
    denied: bool = False
    speech: list[str] | None = None
    action: Action = "continue"
    ends_turn: bool = False


@dataclass
class TurnLog:
    tools: list[ToolCallLog] = field(default_factory=list)
    agent_ms: float = 0.0
    tools_ms: float = 0.0


# A regular activity fails with ActivityError (cause inside); a local one can surface its
# ApplicationError or timeout directly.
ACTIVITY_FAILED = (ActivityError, ApplicationError, ActivityTimeout)


def _error_type(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    return type(cause).__name__


def _error_details(exc: BaseException) -> dict[str, Any]:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict):
            return detail
    return {}


def fingerprint(order: Order) -> str:
    items = ",".join(f"{i.product_id}x{i.quantity}@{i.unit_price}" for i in order.items)
    delivery = order.delivery.model_dump_json() if order.delivery else "-"
    return f"{order.total}|{items}|{delivery}"


@workflow.defn(name="CallWorkflow")
class CallWorkflow:
    @workflow.init
    def __init__(self, call: CallInput) -> None:
        info = workflow.info()
        self.call = call
        self.s = call.resume if call.resume is not None else CallState(call_id=info.workflow_id)
        self._turn_lock = asyncio.Lock()
        self._background: list[asyncio.Task[Any]] = []
        self._audit_no = 0 if call.resume is None else self.s.step * 100
        self._caller_text = ""
        self._dtmf = ""
        self._attention_after = timedelta(seconds=call.attention_after_s)
        self._first_turn_of_run = self.s.turn_no
        self._last_input = workflow.now()

    # --- entry points ----------------------------------------------------------------------

    @workflow.run
    async def run(self, call: CallInput) -> str:
        if not self.s.identified:
            await self._identify()
        while not (self.s.hung_up or self.s.ended):
            if self.s.confirm_job is not None:
                await self._finish_confirmation()
                continue
            if self._sms_pending():
                await self._send_pending_sms()
                continue
            quiet_for = workflow.now() - self._last_input
            if quiet_for >= EDGE_LOST_AFTER:
                self.s.hung_up, self.s.hangup_reason = True, "edge_lost"
                break
            try:
                await workflow.wait_condition(
                    lambda: (
                        self.s.hung_up
                        or self.s.ended
                        or self.s.confirm_job is not None
                        or self._sms_pending()
                        or self._should_continue_as_new()
                    ),
                    timeout=EDGE_LOST_AFTER - quiet_for,
                )
            except TimeoutError:
                continue
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._drain_background()
                workflow.continue_as_new(self._carry_over())
        await self._post_call()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._drain_background()
        return self.s.outcome

    @workflow.update(name="greet")
    async def greet(self) -> Reply:
        """The first words of the call (the edge sends this with update-with-start)."""
        await workflow.wait_condition(lambda: self.s.identified)
        return self._reply(self._greeting_sentences())

    @workflow.update(name="caller_said")
    async def caller_said(self, turn: CallerTurn) -> Reply:
        async with self._turn_lock:
            await workflow.wait_condition(lambda: self.s.identified)
            self._still_live()
            self._note_input(turn.previous_playback)
            return await self._turn(turn.text.strip(), dtmf="")

    @caller_said.validator
    def _validate_turn(self, turn: CallerTurn) -> None:
        self._refuse_when_over()
        if not turn.text.strip():
            raise ValueError("empty utterance")
        if len(turn.text) > MAX_UTTERANCE_CHARS:
            raise ValueError(f"utterance longer than {MAX_UTTERANCE_CHARS} characters")

    @workflow.update(name="caller_pressed")
    async def caller_pressed(self, turn: DtmfTurn) -> Reply:
        async with self._turn_lock:
            await workflow.wait_condition(lambda: self.s.identified)
            self._still_live()
            self._note_input(turn.previous_playback)
            return await self._dtmf_turn(turn.digits)

    @caller_pressed.validator
    def _validate_dtmf(self, turn: DtmfTurn) -> None:
        self._refuse_when_over()

    @workflow.update(name="caller_silent")
    async def caller_silent(self, previous_playback: PlaybackReport | None = None) -> Reply:
        async with self._turn_lock:
            self._still_live()
            self._note_input(previous_playback)
            self.s.silences += 1
            if self.s.silences >= MAX_SILENCES:
                self._finish("no_response")
                return self._reply(phrases.silence_goodbye(), action="hangup")
            return self._reply(phrases.reprompt(self.s.silences))

    @caller_silent.validator
    def _validate_silence(self, previous_playback: PlaybackReport | None = None) -> None:
        self._refuse_when_over()

    @workflow.signal(name="playback")
    def playback(self, report: PlaybackReport) -> None:
        self._note_playback(report)

    @workflow.signal(name="hang_up")
    def hang_up(self, event: HangUp) -> None:
        if not self.s.hung_up:
            self.s.hung_up, self.s.hangup_reason = True, event.reason

    @workflow.query(name="state")
    def state(self) -> CallState:
        return self.s

    def _still_live(self) -> None:
        """A turn that waited behind the one that ended the call is refused, not run."""
        if self.s.hung_up or self.s.ended:
            raise ApplicationError("the call has ended", type="CallEnded", non_retryable=True)

    def _refuse_when_over(self) -> None:
        if self.s.hung_up or self.s.ended:
            raise ValueError("the call has ended")

    # --- identification --------------------------------------------------------------------

    async def _identify(self) -> None:
        phone: str | None = None
        if self.call.caller_number:
            try:
                phone = normalise_phone(self.call.caller_number)
            except InvalidPhone:
                phone = None
        self.s.caller_phone, self.s.withheld = phone, phone is None
        workflow.upsert_search_attributes(
            [CALLER_PHONE.value_set(mask_phone(phone) if phone else "withheld")]
        )
        self._start_background(
            "record_call_started",
            CallStarted(
                call_id=self.s.call_id,
                caller_phone=phone,
                withheld=phone is None,
                started_at=workflow.now(),
                agent_mode="llm",
            ),
            summary="call log: call started",
        )
        if phone is not None:
            try:
                identity: Identity = await workflow.execute_local_activity(
                    "identify_caller",
                    IdentifyRequest(phone=phone),
                    result_type=Identity,
                    summary=f"identify caller {mask_phone(phone)}",
                    **IN_CALL,
                )
                self.s.known_customer = identity.customer is not None
                self.s.customer_name = identity.customer.name if identity.customer else None
                self.s.active_orders = identity.active_orders
            except ACTIVITY_FAILED as exc:
                self.s.last_error = _error_type(exc)  # greet as an unknown caller; still useful
        context = CallerContext(
            name=self.s.customer_name,
            withheld=self.s.withheld,
            known=self.s.known_customer,
            active_orders=[status_sentence(o, self._today()) for o in self.s.active_orders],
        )
        self.s.messages = [{"role": "system", "content": render_system_prompt(context)}]
        self.s.identified = True
        self._move(Event.IDENTIFIED)

    def _greeting_sentences(self) -> list[str]:
        sentences = phrases.greeting(self.s.customer_name, self.s.active_orders, self._today())
        self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
        return sentences

    # --- one caller turn ---------------------------------------------------------------------

    async def _turn(self, text: str, *, dtmf: str) -> Reply:
        started = workflow.time()
        self.s.turn_no += 1
        self.s.silences = 0
        self._caller_text, self._dtmf = text, dtmf
        self.s.messages.append({"role": "user", "content": text})
        log = TurnLog()
        if self.s.pending_contact_phone is not None:
            self._settle_contact_phone(text)
        sentences, action = await self._agent_loop(log)
        reply = self._reply(sentences, action=action)
        self._log_turn(text, reply, log, started)
        return reply

    async def _dtmf_turn(self, digits: str) -> Reply:
        if digits == "0":
            outcome = await self._transfer(TransferToOperator(reason="DTMF 0"))
            return self._reply(outcome.speech or [], action=outcome.action)
        if digits == "*" and self.s.stage in DRAFT_STAGES:
            outcome = await self._cancel(CancelOrder(reason="DTMF *"))
            return self._reply(
                phrases.cancelled() if not outcome.error else phrases.too_many_errors()
            )
        if digits == "1" and self.s.stage is Stage.AWAITING_CONFIRMATION:
            self._caller_text, self._dtmf = "", "1"
            outcome = await self._confirm()
            return self._reply(outcome.speech or phrases.too_many_errors(), action=outcome.action)
        # Digits while an order number is asked for are the number (dialog.md, DTMF).
        return await self._turn(f"Номер заказа: {digits}", dtmf=digits)

    async def _agent_loop(self, log: TurnLog) -> tuple[list[str], Action]:
        used = errors = 0
        while True:
            tools = sorted(allowed_tools(self.s.stage, withheld=self.s.withheld))
            try:
                answer = await self._ask_agent(tools, log)
            except ACTIVITY_FAILED as exc:
                self.s.last_error = _error_type(exc)
                return phrases.agent_unavailable(), "continue"
            if not answer.tool_calls:
                text = normalise_for_tts(answer.text or "")
                self.s.messages.append({"role": "assistant", "content": text})
                return split_sentences(text) or ["Чем ещё могу помочь?"], "continue"
            self.s.messages.append(
                {
                    "role": "assistant",
                    "content": answer.text,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for call in answer.tool_calls
                    ],
                }
            )
            spoken: ToolOutcome | None = None
            for call in answer.tool_calls:
                if used >= MAX_TOOL_CALLS_PER_TURN:
                    outcome = ToolOutcome({"error": "Лимит действий за ход исчерпан."}, error=True)
                else:
                    used += 1
                    outcome = await self._run_tool(call, log)
                errors = errors + 1 if outcome.error else 0
                self.s.messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": json.dumps(outcome.payload, ensure_ascii=False, default=str),
                    }
                )
                if outcome.ends_turn and spoken is None:
                    spoken = outcome
            if spoken is not None:
                sentences = spoken.speech or []
                self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
                return sentences, spoken.action
            if errors >= MAX_CONSECUTIVE_TOOL_ERRORS or used >= MAX_TOOL_CALLS_PER_TURN:
                sentences = phrases.too_many_errors()
                self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
                return sentences, "continue"

    async def _ask_agent(self, tools: list[str], log: TurnLog) -> AgentReply:
        started = workflow.time()
        answer: AgentReply = await workflow.execute_local_activity(
            "agent_turn",
            AgentRequest(call_id=self.s.call_id, messages=self.s.messages, tools=tools),
            result_type=AgentReply,
            summary=f"agent turn {self.s.turn_no} in {self.s.stage.value}",
            **AGENT,
        )
        log.agent_ms += (workflow.time() - started) * 1000
        return answer

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

    # --- tools -------------------------------------------------------------------------------

    async def _store(self, activity: str, arg: Any, result_type: type[Any], summary: str) -> Any:
        return await workflow.execute_local_activity(
            activity,
            arg,
            result_type=result_type,
            summary=summary,
            **IN_CALL,
        )

    def _store_error(self, exc: BaseException, what: str) -> ToolOutcome:
        kind = _error_type(exc)
        self.s.last_error = kind
        if kind == "StoreUnavailable":
            return ToolOutcome(
                {
                    "error": "Сервис магазина недоступен. Извинитесь и предложите оператора.",
                    "code": kind,
                },
                error=True,
            )
        details = _error_details(exc)
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
            _readback(self.s.readback),
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
        kind = _error_type(exc)
        self.s.last_error = kind
        self._audit(
            AuditEvent.ORDER_CONFIRM_FAILED,
            order_id=job.order_id,
            order_number=job.number,
            details={"error": kind, **_error_details(exc)},
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
            self.s.last_error = _error_type(exc)
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

    # --- after the call ------------------------------------------------------------------------

    async def _finish_confirmation(self) -> None:
        """Retry a postponed confirmation in rounds until the Store API answers."""
        job = self.s.confirm_job
        assert job is not None
        since = workflow.now()
        while True:
            job.rounds += 1
            self._details()
            try:
                order: Order = await workflow.execute_activity(
                    "confirm_order",
                    ConfirmRequest(
                        order_id=job.order_id,
                        expected_total=job.expected_total,
                        idempotency_key=job.idempotency_key,
                    ),
                    result_type=Order,
                    summary=f"confirm order {job.number} (round {job.rounds})",
                    **ROUND,
                )
            except ACTIVITY_FAILED as exc:
                kind = _error_type(exc)
                job.last_error = kind
                if kind != "StoreUnavailable":
                    # The API is back but refuses (total changed, stock gone): a human decides.
                    self.s.confirm_job = None
                    self._set_attention("confirm_failed")
                    self._audit(
                        AuditEvent.ORDER_CONFIRM_FAILED,
                        order_id=job.order_id,
                        order_number=job.number,
                        details={"error": kind, "after_call": True},
                    )
                    return
                if workflow.now() - since >= self._attention_after:
                    self._set_attention("store_unavailable")
                await workflow.sleep(round_pause(job.rounds))
                continue
            self._on_confirmed(order)
            return

    def _sms_pending(self) -> bool:
        return any(not c.sms_sent for c in self.s.confirmed)

    async def _send_pending_sms(self) -> None:
        phone = self.s.verified_phone
        for confirmed in self.s.confirmed:
            if confirmed.sms_sent:
                continue
            since = workflow.now()
            while not confirmed.sms_sent:
                confirmed.sms_rounds += 1
                try:
                    await workflow.execute_activity(
                        "send_sms",
                        SmsRequest(
                            phone=phone or "",
                            text=confirmed.sms_text,
                            idempotency_key=confirmed.sms_key,
                        ),
                        summary=f"SMS for order {confirmed.number}",
                        **ROUND,
                    )
                except ACTIVITY_FAILED as exc:
                    kind = _error_type(exc)
                    confirmed.sms_last_error = kind
                    if kind != "SmsGatewayDown":
                        self._set_attention("sms_failed")
                        self._audit(
                            AuditEvent.SMS_FAILED,
                            order_id=confirmed.order_id,
                            order_number=confirmed.number,
                            details={"error": kind},
                        )
                        confirmed.sms_sent = True  # nothing more the bot can do; Attention says so
                        break
                    if workflow.now() - since >= self._attention_after:
                        self._set_attention("sms_failed")
                    await workflow.sleep(round_pause(confirmed.sms_rounds))
                    continue
                confirmed.sms_sent = True
                self._audit(
                    AuditEvent.SMS_SENT,
                    order_id=confirmed.order_id,
                    order_number=confirmed.number,
                    details={"text": confirmed.sms_text},
                )
                if self.s.stage is Stage.CONFIRMED:
                    self._move(Event.SMS_SENT)
                if self.s.attention == "sms_failed":
                    self._set_attention("")

    async def _post_call(self) -> None:
        if self.s.draft is not None and self.s.confirm_job is None:
            draft = self.s.draft
            try:
                await workflow.execute_activity(
                    "cancel_order",
                    CancelRequest(
                        order_id=draft.order_id,
                        reason="caller hung up before confirming",
                        idempotency_key=self._key("cancel"),
                    ),
                    result_type=Order,
                    summary=f"cancel unconfirmed order {draft.number} after hang-up",
                    **DURABLE,
                )
            except ACTIVITY_FAILED as exc:
                # Not cancellable any more (someone else moved it on): nothing left to undo.
                self.s.last_error = _error_type(exc)
            self.s.draft = None
            self._audit(
                AuditEvent.ORDER_CANCELLED,
                order_id=draft.order_id,
                order_number=draft.number,
                details={"reason": "caller hung up before confirming"},
            )
            if can(self.s.stage, Event.CANCELLED):
                self._move(Event.CANCELLED)
        while self.s.confirm_job is not None:
            await self._finish_confirmation()
        await self._send_pending_sms()
        self.s.outcome = self._derive_outcome()
        self._start_background(
            "record_call_ended",
            CallEnded(
                call_id=self.s.call_id,
                ended_at=workflow.now(),
                outcome=self.s.outcome,
                last_stage=self.s.stage.value,
                order_number=self.s.order_number or None,
                agent_mode="llm",
            ),
            summary=f"call log: call ended ({self.s.outcome})",
        )
        if self.s.stage is not Stage.TRANSFERRED:
            self._move(Event.ENDED)
        workflow.upsert_search_attributes([CALL_OUTCOME.value_set(self.s.outcome)])
        self._details()

    def _derive_outcome(self) -> str:
        """The most telling thing that happened: an order beats how the call ended."""
        if self.s.stage is Stage.TRANSFERRED:
            return "transferred"
        if self.s.confirmed:
            return "order_confirmed"
        if self.s.hangup_reason == "edge_lost":
            return "edge_lost"
        if self.s.stage is Stage.CANCELLED:
            return "order_cancelled"
        return self.s.outcome or "hung_up"

    def _finish(self, outcome: str) -> None:
        self.s.ended = True
        self.s.outcome = self.s.outcome or outcome

    # --- bookkeeping ---------------------------------------------------------------------------

    def _move(self, event: Event) -> None:
        stage = next_stage(self.s.stage, event)
        if stage is not self.s.stage:
            self.s.stage = stage
            workflow.upsert_search_attributes([CALL_STAGE.value_set(stage.value)])
        self._details()

    def _set_attention(self, value: str) -> None:
        if value == self.s.attention:
            return
        previous, self.s.attention = self.s.attention, value
        workflow.upsert_search_attributes([ATTENTION.value_set(value)])
        self._audit(
            AuditEvent.ATTENTION_SET if value else AuditEvent.ATTENTION_CLEARED,
            order_number=self.s.order_number
            or (self.s.confirm_job.number if self.s.confirm_job else None),
            details={"attention": value, "previous": previous},
            actor="system",
        )
        self._details()

    def _details(self) -> None:
        job = self.s.confirm_job
        lines = [f"**{self.s.stage.value}**"]
        if job is not None:
            lines[0] += (
                f" order {job.number} — Store API {job.last_error or 'pending'}, round {job.rounds}"
            )
        elif self.s.order_number:
            lines[0] += f" · order {self.s.order_number}"
        phone = self.s.verified_phone
        lines.append(
            f"- caller: {mask_phone(phone) if phone else 'withheld'}, turns: {self.s.turn_no}"
        )
        if self.s.attention:
            lines.append(f"- ⚠ attention: `{self.s.attention}`")
        if self.s.last_error:
            lines.append(f"- last error: `{self.s.last_error}`")
        if self.s.hung_up:
            lines.append(f"- caller gone ({self.s.hangup_reason}); post-call work")
        workflow.set_current_details("\n".join(lines))

    def _key(self, what: str) -> str:
        """Idempotency keys from the workflow id and a per-call step counter (tools.md rule 6)."""
        self.s.step += 1
        return f"{self.s.call_id}:{what}:{self.s.step}"

    def _audit(
        self,
        event: AuditEvent,
        *,
        order_id: str | None = None,
        order_number: str | None = None,
        details: dict[str, Any] | None = None,
        actor: str = "bot",
    ) -> None:
        self._audit_no += 1
        record = AuditRecord(
            event_key=f"{self.s.call_id}:audit:{workflow.info().run_id[:8]}:{self._audit_no}",
            call_id=self.s.call_id,
            workflow_id=workflow.info().workflow_id,
            event=event,
            actor=actor,
            order_id=order_id,
            order_number=order_number,
            phone=self.s.verified_phone,
            details=json.loads(json.dumps(details or {}, default=str)),
            at=workflow.now(),
        )
        self._start_background("write_audit", record, summary=f"audit {event.value}")

    def _log_turn(self, text: str, reply: Reply, log: TurnLog, started: float) -> None:
        self._start_background(
            "record_turn",
            TurnRecord(
                call_id=self.s.call_id,
                turn_no=self.s.turn_no,
                caller_text=text,
                reply_text=reply.text,
                action=reply.action,
                stage=self.s.stage.value,
                tools=log.tools,
                timings=TurnTimings(
                    agent_ms=log.agent_ms,
                    tools_ms=log.tools_ms,
                    total_ms=(workflow.time() - started) * 1000,
                ),
                at=workflow.now(),
            ),
            summary=f"call log: turn {self.s.turn_no}",
        )

    def _start_background(self, activity: str, arg: Any, *, summary: str) -> None:
        """Off the reply path: the update returns while this runs; the run loop waits for it."""
        handle = workflow.start_activity(activity, arg, summary=summary, **DURABLE)
        self._background.append(handle)

    async def _drain_background(self) -> None:
        while self._background:
            pending, self._background = self._background, []
            await asyncio.gather(*pending)

    def _reply(self, sentences: list[str], *, action: Action = "continue") -> Reply:
        self.s.reply_id += 1
        return Reply(
            reply_id=self.s.reply_id, sentences=sentences, action=action, stage=self.s.stage.value
        )

    def _note_input(self, report: PlaybackReport | None) -> None:
        self._last_input = workflow.now()
        self._note_playback(report)

    def _note_playback(self, report: PlaybackReport | None) -> None:
        readback = self.s.readback
        if report is None or readback is None or report.reply_id != readback.reply_id:
            return
        readback.played_to_end = report.played_to_end

    def _today(self) -> dt.date:
        return workflow.now().astimezone(STORE_TZ).date()

    def _should_continue_as_new(self) -> bool:
        long_run = self.s.turn_no - self._first_turn_of_run >= self.call.turns_per_run
        return (
            (long_run or workflow.info().is_continue_as_new_suggested())
            and not (self.s.hung_up or self.s.ended)
            and self.s.confirm_job is None
            and not self._sms_pending()
        )

    def _carry_over(self) -> CallInput:
        self.s.messages = self.s.messages[:1] + self.s.messages[1:][-KEEP_MESSAGES:]
        return self.call.model_copy(update={"resume": self.s})


def _readback(state: ReadbackState | None) -> Readback | None:
    if state is None:
        return None
    return Readback(
        reply_id=state.reply_id,
        order_id=state.order_id,
        fingerprint=state.fingerprint,
        total=state.total,
        played_to_end=state.played_to_end,
    )


def _json_safe(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"raw": arguments[:200]}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
