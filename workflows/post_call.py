"""Work that outlives the conversation (dialog.md, post-call work)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditEvent
    from activities.call_log import CallEnded
    from activities.sms import SmsRequest
    from activities.store import (
        CancelRequest,
        ConfirmRequest,
    )
    from store_api.contract import (
        Order,
    )
    from workflows.stages import (
        Event,
        Stage,
        can,
    )

from workflows.activity_options import ACTIVITY_FAILED, DURABLE, ROUND, error_type, round_pause
from workflows.call_records import CALL_OUTCOME
from workflows.call_tools import CallTools


class PostCallWork(CallTools):
    """What must finish whether or not the caller is still there: a postponed confirmation,
    the SMS, cancelling an unconfirmed draft, the call's outcome."""

    async def _finish_confirmation(self) -> None:
        """Retry a postponed confirmation in rounds until the Store API answers."""
        job = self.s.confirm_job
        assert job is not None
        since = workflow.now()
        while True:
            if self.s.operator_cancelled:
                self.s.confirm_job = None
                return
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
                kind = error_type(exc)
                job.last_error = kind
                if self.s.operator_cancelled:
                    continue  # the operator cancelled the order meanwhile; stop quietly
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
                await self._pause(round_pause(job.rounds))
                continue
            self._on_confirmed(order)
            return

    async def _pause(self, duration: timedelta) -> None:
        """Wait between rounds; an operator's "retry now" cuts the wait short."""
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._wake, timeout=duration)
        self._wake = False

    def _sms_pending(self) -> bool:
        return any(not (c.sms_sent or c.cancelled) for c in self.s.confirmed)

    async def _send_pending_sms(self) -> None:
        phone = self.s.verified_phone
        for confirmed in self.s.confirmed:
            if confirmed.sms_sent or confirmed.cancelled:
                continue
            since = workflow.now()
            while not (confirmed.sms_sent or confirmed.cancelled):
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
                    kind = error_type(exc)
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
                    await self._pause(round_pause(confirmed.sms_rounds))
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
                self.s.last_error = error_type(exc)
            self.s.draft = None
            self._audit(
                AuditEvent.ORDER_CANCELLED,
                order_id=draft.order_id,
                order_number=draft.number,
                details={"reason": "caller hung up before confirming"},
            )
            if can(self.s.stage, Event.CANCELLED):
                self._move(Event.CANCELLED)
        while True:
            while self.s.confirm_job is not None:
                await self._finish_confirmation()
            while self._sms_pending():
                await self._send_pending_sms()
            # An operator action may still be running and leave new work (a resent SMS).
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self.s.confirm_job is None and not self._sms_pending():
                break
        self.s.outcome = self._derive_outcome()
        self._start_background(
            "record_call_ended",
            CallEnded(
                call_id=self.s.call_id,
                ended_at=workflow.now(),
                outcome=self.s.outcome,
                last_stage=self.s.stage.value,
                order_number=self.s.order_number or None,
                agent_mode=self.s.agent_mode,  # "guided" also after a switch
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
        if self.s.operator_cancelled:
            return "cancelled_by_operator"
        if self.s.confirmed:
            return "order_confirmed"
        if self.s.hangup_reason == "edge_lost":
            return "edge_lost"
        if self.s.stage is Stage.CANCELLED:
            return "order_cancelled"
        return self.s.outcome or "hung_up"
