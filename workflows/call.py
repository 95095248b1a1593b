"""CallWorkflow: one durable workflow per phone call (dialog.md, tools.md).

Turns arrive as the `caller_said` update and get their reply in the same round trip. The
LLM only proposes tools; this code checks each proposal against the stage table, fills in
what the LLM must not decide (phone, idempotency keys, expected totals), runs activities,
and speaks the deterministic parts (greeting, read-back, confirmation) itself. After the
caller hangs up the workflow finishes its post-call work on its own.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.agent import AgentReply, AgentRequest
    from activities.audit import AuditEvent
    from activities.call_log import CallStarted
    from activities.guided import GuidedReply, GuidedRequest
    from activities.store import CancelRequest, IdentifyRequest, Identity
    from core.phones import InvalidPhone, mask_phone, normalise_phone
    from guided import lines as guided_lines
    from guided.memory import GuidedMemory
    from guided.memory import Item as GuidedItem
    from prompts import CallerContext, render_system_prompt
    from prompts.tools import (
        CancelOrder,
        TransferToOperator,
    )
    from russian.readback import status_sentence
    from russian.text import normalise_for_tts, split_sentences
    from store_api.contract import Order
    from workflows import phrases
    from workflows.models import (
        MAX_UTTERANCE_CHARS,
        Action,
        CallerTurn,
        CallInput,
        DtmfTurn,
        HangUp,
        OperatorCancel,
        OperatorResend,
        OperatorRetry,
        PlaybackReport,
        Reply,
    )
    from workflows.stages import DRAFT_STAGES, Event, Stage, allowed_tools, can
    from workflows.state import (
        CallState,
    )

from workflows.activity_options import ACTIVITY_FAILED, AGENT, IN_CALL, ROUND, error_type
from workflows.call_records import CALL_STAGE, CALLER_PHONE, GUIDED_AGENT, OPERATOR_LAYER, TurnLog
from workflows.call_tools import ToolOutcome
from workflows.post_call import PostCallWork

__all__ = ["CALLER_PHONE", "CALL_STAGE", "CallWorkflow"]

MAX_TOOL_CALLS_PER_TURN = 5
MAX_CONSECUTIVE_TOOL_ERRORS = 3
MAX_SILENCES = 3
# With no input at all for this long the edge is gone (it sends silence every few seconds).
EDGE_LOST_AFTER = timedelta(minutes=10)
KEEP_MESSAGES = 60  # LLM context carried over continue-as-new
# Patch id: continue-as-new waits for a turn that arrived during the hand-over.
HAND_OVER = "hand-over-after-turns-1"
# Failures of `agent_turn` after which an "auto" call goes on with the guided agent.
LLM_DOWN = frozenset({"LlmUnavailable", "LlmNotConfigured", "TimeoutError"})


@workflow.defn(name="CallWorkflow")
class CallWorkflow(PostCallWork):
    @workflow.init
    def __init__(self, call: CallInput) -> None:
        info = workflow.info()
        self.call = call
        self.s = call.resume if call.resume is not None else CallState(call_id=info.workflow_id)
        if call.resume is None and call.agent == "guided":
            self.s.agent_mode = "guided"
        self._switch_note: list[str] = []  # said once, in the turn the call left the LLM
        # Where the guided agent's view of the switch turn starts: the LLM's tool calls of
        # that turn were its own, not answers to the guided agent's proposals.
        self._guided_from = 0
        self._turn_lock = asyncio.Lock()
        self._background: list[asyncio.Task[Any]] = []
        self._audit_no = 0 if call.resume is None else self.s.step * 100
        self._caller_text = ""
        self._dtmf = ""
        self._attention_after = timedelta(seconds=call.attention_after_s)
        self._first_turn_of_run = self.s.turn_no
        self._wake = False
        self._last_input = workflow.now()

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
                if workflow.patched(OPERATOR_LAYER):
                    # Kept after the call ends: someone may want to call the customer back.
                    self._set_attention("edge_lost")
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
                if workflow.all_handlers_finished() or not workflow.patched(HAND_OVER):
                    workflow.continue_as_new(self._carry_over())
                # A turn arrived while the audit writes drained: answer it, then hand over
                # (handing over now would fail it with "workflow completed").
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
            if self.s.agent_mode == "guided" and self.s.silences == 1:
                # A directed dialog asks its pending question again, not "Чем могу помочь?".
                again = guided_lines.reprompt(self.s.guided, self.s.stage.value)
                return self._reply(split_sentences(normalise_for_tts(" ".join(again))))
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

    # --- operator actions (operators.md) ---------------------------------------------------

    @workflow.update(name="operator_retry_now")
    async def operator_retry_now(self, request: OperatorRetry) -> str:
        self._operator_audit(request.operator, "retry_now")
        self._wake = True
        return "Retrying now."

    @operator_retry_now.validator
    def _validate_retry(self, request: OperatorRetry) -> None:
        _check_operator(request.operator)
        if self.s.confirm_job is None and not self._sms_pending():
            raise ValueError(
                "Nothing to retry: this call has no postponed confirmation and no unsent SMS."
            )

    @workflow.update(name="operator_cancel_order")
    async def operator_cancel_order(self, request: OperatorCancel) -> str:
        target = self._operator_target()
        assert target is not None  # the validator checked it
        order_id, number = target
        reason = f"operator {request.operator}: {request.reason}"
        await workflow.execute_activity(
            "cancel_order",
            CancelRequest(order_id=order_id, reason=reason, idempotency_key=self._key("cancel")),
            result_type=Order,
            summary=f"cancel order {number} (operator {request.operator})",
            **ROUND,
        )
        self.s.operator_cancelled = True
        self.s.draft, self.s.readback, self.s.confirm_job = None, None, None
        for confirmed in self.s.confirmed:
            if confirmed.order_id == order_id:
                confirmed.cancelled = True
        self._wake = True
        self._operator_audit(request.operator, "cancel_order", order_id, number, request.reason)
        self._audit(
            AuditEvent.ORDER_CANCELLED,
            order_id=order_id,
            order_number=number,
            details={"reason": request.reason},
            actor=f"operator:{request.operator}",
        )
        if can(self.s.stage, Event.OPERATOR_CANCELLED):
            self._move(Event.OPERATOR_CANCELLED)
        self._set_attention("")
        return f"Order {number} cancelled."

    @operator_cancel_order.validator
    def _validate_cancel(self, request: OperatorCancel) -> None:
        _check_operator(request.operator)
        if not request.reason.strip() or len(request.reason) > 300:
            raise ValueError('Give a reason (1–300 characters): {"reason": "…", "operator": "…"}.')
        if self._operator_target() is None:
            raise ValueError("This call has no order to cancel.")

    @workflow.update(name="operator_resend_sms")
    async def operator_resend_sms(self, request: OperatorResend) -> str:
        confirmed = self.s.confirmed[-1]
        confirmed.resends += 1
        confirmed.sms_key = f"{self.s.call_id}:sms:{confirmed.number}:resend:{confirmed.resends}"
        confirmed.sms_sent, confirmed.sms_rounds = False, 0
        self._operator_audit(request.operator, "resend_sms", confirmed.order_id, confirmed.number)
        return f"The SMS for order {confirmed.number} will be sent again."

    @operator_resend_sms.validator
    def _validate_resend(self, request: OperatorResend) -> None:
        _check_operator(request.operator)
        if not self.s.confirmed:
            raise ValueError(
                "This call's order was never confirmed, so there is no confirmation SMS to resend."
            )
        if self.s.confirmed[-1].cancelled:
            raise ValueError("The order was cancelled; its confirmation SMS is not sent again.")
        if self.s.hung_up and not self._sms_pending() and self.s.outcome:
            raise ValueError("The call has finished its work; resend from the SMS gateway.")

    def _operator_target(self) -> tuple[str, str] | None:
        """The order an operator may cancel: the draft, the postponed or the last confirmed."""
        if self.s.confirm_job is not None:
            return self.s.confirm_job.order_id, self.s.confirm_job.number
        if self.s.draft is not None:
            return self.s.draft.order_id, self.s.draft.number
        live = [c for c in self.s.confirmed if not c.cancelled]
        if live:
            return live[-1].order_id, live[-1].number
        return None

    def _operator_audit(
        self,
        operator: str,
        action: str,
        order_id: str | None = None,
        number: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._audit(
            AuditEvent.OPERATOR_ACTION,
            order_id=order_id,
            order_number=number or self.s.order_number or None,
            details={"action": action, **({"reason": reason} if reason else {})},
            actor=f"operator:{operator}",
        )

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
                agent_mode=self.s.agent_mode,
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
                self.s.last_error = error_type(exc)  # greet as an unknown caller; still useful
        context = CallerContext(
            name=self.s.customer_name,
            withheld=self.s.withheld,
            known=self.s.known_customer,
            active_orders=[status_sentence(o, self._today()) for o in self.s.active_orders],
        )
        self.s.messages = [{"role": "system", "content": render_system_prompt(context)}]
        if self.call.agent is not None and workflow.patched(GUIDED_AGENT):
            # The list of calls shows who leads the dialog without asking a worker.
            workflow.upsert_memo({"agent_mode": self.s.agent_mode})
        self.s.identified = True
        self._move(Event.IDENTIFIED)

    def _greeting_sentences(self) -> list[str]:
        sentences = phrases.greeting(self.s.customer_name, self.s.active_orders, self._today())
        if self.s.agent_mode == "guided":
            # A directed dialog names what it can do instead of an open question.
            sentences[-1] = guided_lines.GREETING_QUESTION
            self.s.guided.asked = [guided_lines.GREETING_QUESTION]
        self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
        return sentences

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
        if self._switch_note:
            sentences, self._switch_note = self._switch_note + sentences, []
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
                self.s.last_error = error_type(exc)
                if self._may_switch(self.s.last_error):
                    self._switch_to_guided(self.s.last_error)
                    continue  # the same caller turn, now answered by the guided agent
                if workflow.patched(OPERATOR_LAYER):
                    self._set_attention("agent_unavailable")
                return phrases.agent_unavailable(), "continue"
            if self.s.attention == "agent_unavailable":
                self._set_attention("")
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

    def _may_switch(self, error: str) -> bool:
        return (
            self.call.agent == "auto"
            and self.s.agent_mode == "llm"
            and error in LLM_DOWN
            and workflow.patched(GUIDED_AGENT)
        )

    def _switch_to_guided(self, reason: str) -> None:
        """An "auto" call whose LLM failed goes on with the guided agent (audited, shown)."""
        self.s.agent_mode, self.s.agent_switch_reason = "guided", reason
        self._guided_from = len(self.s.messages)
        # It starts from the stage the LLM reached, knowing the draft's items (to change one).
        self.s.guided = GuidedMemory()
        order = self.s.last_order
        if self.s.draft is not None and order is not None and order.id == self.s.draft.order_id:
            self.s.guided.items = [
                GuidedItem(product_id=i.product_id, name=i.name, quantity=min(i.quantity, 99))
                for i in order.items
            ]
        if reason != "LlmNotConfigured":  # with no LLM at all nothing changes for the caller
            self._switch_note = [guided_lines.SWITCHED]
        self._audit(
            AuditEvent.AGENT_MODE_SWITCHED,
            order_number=self.s.order_number or None,
            details={"from": "llm", "to": "guided", "reason": reason},
            actor="system",
        )
        workflow.upsert_memo({"agent_mode": "guided", "agent_switch_reason": reason})
        self._details()

    async def _ask_agent(self, tools: list[str], log: TurnLog) -> AgentReply:
        if self.s.agent_mode == "guided" and workflow.patched(GUIDED_AGENT):
            return await self._ask_guided(tools, log)
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

    async def _ask_guided(self, tools: list[str], log: TurnLog) -> AgentReply:
        started = workflow.time()
        last_user = max(
            (i for i, m in enumerate(self.s.messages) if m.get("role") == "user"), default=0
        )
        previous = next(
            (
                str(m["content"])
                for m in reversed(self.s.messages[:last_user])
                if m.get("role") == "assistant" and m.get("content")
            ),
            "",
        )
        answer: GuidedReply = await workflow.execute_local_activity(
            "guided_turn",
            GuidedRequest(
                call_id=self.s.call_id,
                messages=self.s.messages[last_user : last_user + 1]
                + self.s.messages[max(last_user + 1, self._guided_from) :],
                previous_reply=previous,
                tools=tools,
                stage=self.s.stage.value,
                today=self._today(),
                withheld=self.s.withheld,
                phone_known=self.s.verified_phone is not None,
                memory=self.s.guided,
            ),
            result_type=GuidedReply,
            summary=f"guided turn {self.s.turn_no} in {self.s.stage.value}",
            **IN_CALL,
        )
        self.s.guided = answer.memory
        log.agent_ms += (workflow.time() - started) * 1000
        return AgentReply(text=answer.text, tool_calls=answer.tool_calls, ms=answer.ms)

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


def _check_operator(name: str) -> None:
    if not name.strip() or len(name) > 100:
        raise ValueError('Say who you are: {"operator": "your name"} (1–100 characters).')
