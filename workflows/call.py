"""CallWorkflow: one durable workflow per phone call (dialog.md, tools.md).

Turns arrive as the `caller_said` update and get their reply in the same round trip. The
agent only proposes tools; the workflow checks each proposal against the stage table, fills
in what the agent must not decide (phone, idempotency keys, expected totals), runs
activities, and speaks the deterministic parts (greeting, read-back, confirmation) itself.
After the caller hangs up the workflow finishes its post-call work on its own.

This class holds the handlers and the run loop; the work is done by its parts, each with its
own state: `Conversation` (a turn and the agent loop), `AgentTools`, `Confirmation`,
`PostCall`, `OperatorDesk`, and `CallRecords` (stage moves, audit, call log, what the UI
shows), all sharing the call's `CallState`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.call_log import CallLogActivities, CallStarted
    from activities.interfaces.store import IdentifyRequest, StoreActivities
    from core.caller_text import clean_caller_text
    from core.phones import InvalidPhone, mask_phone, normalise_phone
    from core.vocabulary import Action, AgentMode, Attention, CallOutcome, ErrorType, HangupReason
    from guided import lines as guided_lines
    from prompts import CallerContext, render_system_prompt
    from russian.readback import status_sentence
    from russian.text import normalise_for_tts, split_sentences
    from workflows import phrases
    from workflows.models import (
        CALLER_PHONE,
        MAX_UTTERANCE_CHARS,
        STATE_QUERY,
        WORKFLOW_NAME,
        CallerTurn,
        CallSignal,
        CallUpdate,
        DtmfTurn,
        HangUp,
        OperatorCancel,
        OperatorResend,
        OperatorRetry,
        PlaybackReport,
        Reply,
    )
    from workflows.stages import Event
    from workflows.state import CallInput, CallState

from workflows.activity_options import ACTIVITY_FAILED, IN_CALL, Rounds, error_type
from workflows.agent_tools import AgentTools
from workflows.confirmation import Confirmation
from workflows.conversation import Conversation
from workflows.operators import OperatorDesk
from workflows.post_call import PostCall
from workflows.records import GUIDED_AGENT, OPERATOR_LAYER, CallRecords

MAX_SILENCES = 3
# With no input at all for this long the edge is gone (it sends silence every few seconds).
EDGE_LOST_AFTER = timedelta(minutes=10)
KEEP_MESSAGES = 60  # LLM context carried over continue-as-new
# Patch id: continue-as-new waits for a turn that arrived during the hand-over.
HAND_OVER = "hand-over-after-turns-1"


@workflow.defn(name=WORKFLOW_NAME)
class CallWorkflow:
    @workflow.init
    def __init__(self, call: CallInput) -> None:
        info = workflow.info()
        self.call = call
        self.s = call.resume if call.resume is not None else CallState(call_id=info.workflow_id)
        if call.resume is None and call.agent is AgentMode.GUIDED:
            self.s.agent_mode = AgentMode.GUIDED
        self._turn_lock = asyncio.Lock()
        self._first_turn_of_run = self.s.turn_no
        self._last_input = workflow.now()
        rounds = Rounds()
        self.records = CallRecords(call, self.s)
        self.confirmation = Confirmation(self.s, self.records, rounds)
        self.tools = AgentTools(self.s, self.records, self.confirmation)
        self.conversation = Conversation(call, self.s, self.records, self.tools, self.confirmation)
        self.post_call = PostCall(self.s, self.records, self.confirmation, rounds)
        self.operators = OperatorDesk(self.s, self.records, rounds, self.post_call)

    @workflow.run
    async def run(self, call: CallInput) -> str:
        if not self.s.identified:
            await self._identify()
        while not (self.s.hung_up or self.s.ended):
            if self.s.confirm_job is not None:
                await self.confirmation.finish_postponed()
                continue
            if self.post_call.sms_pending():
                await self.post_call.send_pending_sms()
                continue
            quiet_for = workflow.now() - self._last_input
            if quiet_for >= EDGE_LOST_AFTER:
                self.s.hung_up, self.s.hangup_reason = True, HangupReason.EDGE_LOST
                if workflow.patched(OPERATOR_LAYER):
                    # Kept after the call ends: someone may want to call the customer back.
                    self.records.set_attention(Attention.EDGE_LOST)
                break
            try:
                await workflow.wait_condition(
                    lambda: (
                        self.s.hung_up
                        or self.s.ended
                        or self.s.confirm_job is not None
                        or self.post_call.sms_pending()
                        or self._should_continue_as_new()
                    ),
                    timeout=EDGE_LOST_AFTER - quiet_for,
                )
            except TimeoutError:
                continue
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self.records.drain()
                if workflow.all_handlers_finished() or not workflow.patched(HAND_OVER):
                    workflow.continue_as_new(self._carry_over())
                # A turn arrived while the audit writes drained: answer it, then hand over
                # (handing over now would fail it with "workflow completed").
        await self.post_call.finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.records.drain()
        return self.s.outcome.value

    # --- the caller (through the edge or `voiceorder chat`) --------------------------------

    @workflow.update(name=CallUpdate.GREET)
    async def greet(self) -> Reply:
        """The first words of the call (the edge sends this with update-with-start)."""
        await workflow.wait_condition(lambda: self.s.identified)
        return self.conversation.reply(self._greeting_sentences())

    @workflow.update(name=CallUpdate.CALLER_SAID)
    async def caller_said(self, turn: CallerTurn) -> Reply:
        async with self._turn_lock:
            await workflow.wait_condition(lambda: self.s.identified)
            self._still_live()
            self._note_input(turn.previous_playback)
            return await self.conversation.said(clean_caller_text(turn.text), turn.stream)

    @caller_said.validator
    def _validate_turn(self, turn: CallerTurn) -> None:
        self._refuse_when_over()
        if len(turn.text) > MAX_UTTERANCE_CHARS:
            raise ValueError(f"utterance longer than {MAX_UTTERANCE_CHARS} characters")
        if not clean_caller_text(turn.text):
            raise ValueError("empty utterance")

    @workflow.update(name=CallUpdate.CALLER_PRESSED)
    async def caller_pressed(self, turn: DtmfTurn) -> Reply:
        async with self._turn_lock:
            await workflow.wait_condition(lambda: self.s.identified)
            self._still_live()
            self._note_input(turn.previous_playback)
            return await self.conversation.pressed(turn.digits, turn.stream)

    @caller_pressed.validator
    def _validate_dtmf(self, turn: DtmfTurn) -> None:
        self._refuse_when_over()

    @workflow.update(name=CallUpdate.CALLER_SILENT)
    async def caller_silent(self, previous_playback: PlaybackReport | None = None) -> Reply:
        async with self._turn_lock:
            self._still_live()
            self._note_input(previous_playback)
            self.s.silences += 1
            if self.s.silences >= MAX_SILENCES:
                self.records.finish(CallOutcome.NO_RESPONSE)
                return self.conversation.reply(phrases.silence_goodbye(), action=Action.HANGUP)
            if self.s.agent_mode is AgentMode.GUIDED and self.s.silences == 1:
                # A directed dialog asks its pending question again, not "Чем могу помочь?".
                again = guided_lines.reprompt(self.s.guided, self.s.stage)
                return self.conversation.reply(split_sentences(normalise_for_tts(" ".join(again))))
            return self.conversation.reply(phrases.reprompt(self.s.silences))

    @caller_silent.validator
    def _validate_silence(self, previous_playback: PlaybackReport | None = None) -> None:
        self._refuse_when_over()

    @workflow.signal(name=CallSignal.PLAYBACK)
    def playback(self, report: PlaybackReport) -> None:
        self._note_playback(report)

    @workflow.signal(name=CallSignal.HANG_UP)
    def hang_up(self, event: HangUp) -> None:
        if not self.s.hung_up:
            self.s.hung_up, self.s.hangup_reason = True, event.reason

    # --- operators (operators.md) -----------------------------------------------------------

    @workflow.update(name=CallUpdate.OPERATOR_RETRY_NOW)
    async def operator_retry_now(self, request: OperatorRetry) -> str:
        return self.operators.retry_now(request)

    @operator_retry_now.validator
    def _validate_retry(self, request: OperatorRetry) -> None:
        self.operators.check_retry(request)

    @workflow.update(name=CallUpdate.OPERATOR_CANCEL_ORDER)
    async def operator_cancel_order(self, request: OperatorCancel) -> str:
        return await self.operators.cancel_order(request)

    @operator_cancel_order.validator
    def _validate_cancel(self, request: OperatorCancel) -> None:
        self.operators.check_cancel(request)

    @workflow.update(name=CallUpdate.OPERATOR_RESEND_SMS)
    async def operator_resend_sms(self, request: OperatorResend) -> str:
        return self.operators.resend_sms(request)

    @operator_resend_sms.validator
    def _validate_resend(self, request: OperatorResend) -> None:
        self.operators.check_resend(request)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> CallState:
        return self.s

    # --- the call's life ----------------------------------------------------------------------

    def _still_live(self) -> None:
        """A turn that waited behind the one that ended the call is refused, not run."""
        if self.s.hung_up or self.s.ended:
            raise ApplicationError(
                "the call has ended", type=ErrorType.CALL_ENDED, non_retryable=True
            )

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
        self.records.in_background(
            CallLogActivities.record_call_started,
            CallStarted(
                call_id=self.s.call_id,
                caller_phone=phone,
                withheld=phone is None,
                started_at=workflow.now(),
                agent_mode=self.s.agent_mode.value,
            ),
            summary="call log: call started",
        )
        if phone is not None:
            try:
                identity = await workflow.execute_local_activity_method(
                    StoreActivities.identify_caller,
                    IdentifyRequest(phone=phone),
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
            active_orders=[status_sentence(o, self.records.today()) for o in self.s.active_orders],
        )
        self.s.messages = [{"role": "system", "content": render_system_prompt(context)}]
        if self.call.agent is not None and workflow.patched(GUIDED_AGENT):
            # The list of calls shows who leads the dialog without asking a worker.
            workflow.upsert_memo({"agent_mode": self.s.agent_mode.value})
        self.s.identified = True
        self.records.move(Event.IDENTIFIED)

    def _greeting_sentences(self) -> list[str]:
        sentences = phrases.greeting(
            self.s.customer_name, self.s.active_orders, self.records.today()
        )
        if self.s.agent_mode is AgentMode.GUIDED:
            # A directed dialog names what it can do instead of an open question.
            sentences[-1] = guided_lines.GREETING_QUESTION
            self.s.guided.asked = [guided_lines.GREETING_QUESTION]
        self.s.messages.append({"role": "assistant", "content": " ".join(sentences)})
        return sentences

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
            and not self.post_call.sms_pending()
        )

    def _carry_over(self) -> CallInput:
        self.s.messages = self.s.messages[:1] + self.s.messages[1:][-KEEP_MESSAGES:]
        return self.call.model_copy(update={"resume": self.s})
