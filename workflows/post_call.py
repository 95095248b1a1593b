"""`PostCall`: work that outlives the conversation (dialog.md, post-call work) — the SMS of a
confirmed order, cancelling an unconfirmed draft after a hang-up, the call's outcome."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditEvent
    from activities.interfaces.call_log import CallEnded, CallLogActivities
    from activities.interfaces.sms import SmsActivities, SmsRequest
    from activities.interfaces.store import CancelRequest, StoreActivities
    from core.vocabulary import Attention, CallOutcome, ErrorType, HangupReason, Stage
    from workflows.models import CALL_OUTCOME
    from workflows.stages import Event, can
    from workflows.state import CallState

from workflows.activity_options import (
    ACTIVITY_FAILED,
    DURABLE,
    ROUND,
    Rounds,
    error_type,
    round_pause,
)
from workflows.confirmation import Confirmation
from workflows.records import CallRecords


class PostCall:
    """What must finish whether or not the caller is still there."""

    def __init__(
        self, s: CallState, records: CallRecords, confirmation: Confirmation, rounds: Rounds
    ) -> None:
        self.s = s
        self.records = records
        self.confirmation = confirmation
        self.rounds = rounds

    def sms_pending(self) -> bool:
        return any(not (c.sms_sent or c.cancelled) for c in self.s.confirmed)

    async def send_pending_sms(self) -> None:
        phone = self.s.verified_phone
        for confirmed in self.s.confirmed:
            if confirmed.sms_sent or confirmed.cancelled:
                continue
            since = workflow.now()
            while not (confirmed.sms_sent or confirmed.cancelled):
                confirmed.sms_rounds += 1
                try:
                    await workflow.execute_activity_method(
                        SmsActivities.send_sms,
                        SmsRequest(
                            phone=phone or "",
                            text=confirmed.sms_text,
                            idempotency_key=confirmed.sms_key,
                        ),
                        summary=f"SMS for order {confirmed.number}",
                        **ROUND,
                    )
                except ACTIVITY_FAILED as exc:
                    kind = error_type(exc)
                    confirmed.sms_last_error = kind
                    if kind != ErrorType.SMS_GATEWAY_DOWN:
                        self.records.set_attention(Attention.SMS_FAILED)
                        self.records.audit(
                            AuditEvent.SMS_FAILED,
                            order_id=confirmed.order_id,
                            order_number=confirmed.number,
                            details={"error": kind},
                        )
                        confirmed.sms_sent = True  # nothing more the bot can do; Attention says so
                        break
                    if workflow.now() - since >= self.records.attention_after:
                        self.records.set_attention(Attention.SMS_FAILED)
                    await self.rounds.pause(round_pause(confirmed.sms_rounds))
                    continue
                confirmed.sms_sent = True
                self.records.audit(
                    AuditEvent.SMS_SENT,
                    order_id=confirmed.order_id,
                    order_number=confirmed.number,
                    details={"text": confirmed.sms_text},
                )
                if self.s.stage is Stage.CONFIRMED:
                    self.records.move(Event.SMS_SENT)
                if self.s.attention is Attention.SMS_FAILED:
                    self.records.set_attention(Attention.NONE)

    async def finish(self) -> None:
        """After the hang-up: undo an unconfirmed draft, finish confirmation and SMS, record
        how the call ended."""
        if self.s.draft is not None and self.s.confirm_job is None:
            draft = self.s.draft
            try:
                await workflow.execute_activity_method(
                    StoreActivities.cancel_order,
                    CancelRequest(
                        order_id=draft.order_id,
                        reason="caller hung up before confirming",
                        idempotency_key=self.records.key("cancel"),
                    ),
                    summary=f"cancel unconfirmed order {draft.number} after hang-up",
                    **DURABLE,
                )
            except ACTIVITY_FAILED as exc:
                # Not cancellable any more (someone else moved it on): nothing left to undo.
                self.s.last_error = error_type(exc)
            self.s.draft = None
            self.records.audit(
                AuditEvent.ORDER_CANCELLED,
                order_id=draft.order_id,
                order_number=draft.number,
                details={"reason": "caller hung up before confirming"},
            )
            if can(self.s.stage, Event.CANCELLED):
                self.records.move(Event.CANCELLED)
        while True:
            while self.s.confirm_job is not None:
                await self.confirmation.finish_postponed()
            while self.sms_pending():
                await self.send_pending_sms()
            # An operator action may still be running and leave new work (a resent SMS).
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self.s.confirm_job is None and not self.sms_pending():
                break
        self.s.outcome = self._outcome()
        self.records.in_background(
            CallLogActivities.record_call_ended,
            CallEnded(
                call_id=self.s.call_id,
                ended_at=workflow.now(),
                outcome=self.s.outcome.value,
                last_stage=self.s.stage.value,
                order_number=self.s.order_number or None,
                agent_mode=self.s.agent_mode.value,  # "guided" also after a switch
            ),
            summary=f"call log: call ended ({self.s.outcome.value})",
        )
        if self.s.stage is not Stage.TRANSFERRED:
            self.records.move(Event.ENDED)
        workflow.upsert_search_attributes([CALL_OUTCOME.value_set(self.s.outcome.value)])
        self.records.details()

    def _outcome(self) -> CallOutcome:
        """The most telling thing that happened: an order beats how the call ended."""
        if self.s.stage is Stage.TRANSFERRED:
            return CallOutcome.TRANSFERRED
        if self.s.operator_cancelled:
            return CallOutcome.CANCELLED_BY_OPERATOR
        if self.s.confirmed:
            return CallOutcome.ORDER_CONFIRMED
        if self.s.hangup_reason == HangupReason.EDGE_LOST:
            return CallOutcome.EDGE_LOST
        if self.s.stage is Stage.CANCELLED:
            return CallOutcome.ORDER_CANCELLED
        return self.s.outcome or CallOutcome.HUNG_UP
