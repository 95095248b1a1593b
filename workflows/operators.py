"""`OperatorDesk`: what an operator may do to a call from the Web UI or `voiceorder ops`
(operators.md) — retry a stuck step now, cancel the call's order, resend the SMS. Each check
says, in words an operator reads, why an action does not apply (a `Refusal`: readable in
the Web UI although failure messages are encrypted); each action is audited with who did it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditEvent
    from activities.interfaces.store import CancelRequest, StoreActivities
    from core.refusal import Refusal
    from core.vocabulary import Attention
    from workflows.models import OperatorCancel, OperatorResend, OperatorRetry
    from workflows.stages import Event, can
    from workflows.state import CallState

from workflows.activity_options import ROUND, Rounds
from workflows.post_call import PostCall
from workflows.records import CallRecords

MAX_OPERATOR_NAME = 100
MAX_REASON = 300


class OperatorDesk:
    def __init__(
        self, s: CallState, records: CallRecords, rounds: Rounds, post_call: PostCall
    ) -> None:
        self.s = s
        self.records = records
        self.rounds = rounds
        self.post_call = post_call

    # --- retry now ---------------------------------------------------------------------------

    def check_retry(self, request: OperatorRetry) -> None:
        _check_operator(request.operator)
        if self.s.confirm_job is None and not self.post_call.sms_pending():
            raise Refusal(
                "Nothing to retry: this call has no postponed confirmation and no unsent SMS."
            )

    def retry_now(self, request: OperatorRetry) -> str:
        self._audit(request.operator, "retry_now")
        self.rounds.wake()
        return "Retrying now."

    # --- cancel the order ----------------------------------------------------------------------

    def check_cancel(self, request: OperatorCancel) -> None:
        _check_operator(request.operator)
        if not request.reason.strip() or len(request.reason) > MAX_REASON:
            raise Refusal('Give a reason (1–300 characters): {"reason": "…", "operator": "…"}.')
        if self._target() is None:
            raise Refusal("This call has no order to cancel.")

    async def cancel_order(self, request: OperatorCancel) -> str:
        target = self._target()
        assert target is not None  # the validator checked it
        order_id, number = target
        reason = f"operator {request.operator}: {request.reason}"
        await workflow.execute_activity_method(
            StoreActivities.cancel_order,
            CancelRequest(
                order_id=order_id, reason=reason, idempotency_key=self.records.key("cancel")
            ),
            summary=f"cancel order {number} (operator {request.operator})",
            **ROUND,
        )
        self.s.operator_cancelled = True
        self.s.draft, self.s.readback, self.s.confirm_job = None, None, None
        for confirmed in self.s.confirmed:
            if confirmed.order_id == order_id:
                confirmed.cancelled = True
        self.rounds.wake()
        self._audit(request.operator, "cancel_order", order_id, number, request.reason)
        self.records.audit(
            AuditEvent.ORDER_CANCELLED,
            order_id=order_id,
            order_number=number,
            details={"reason": request.reason},
            actor=f"operator:{request.operator}",
        )
        if can(self.s.stage, Event.OPERATOR_CANCELLED):
            self.records.move(Event.OPERATOR_CANCELLED)
        self.records.set_attention(Attention.NONE)
        return f"Order {number} cancelled."

    def _target(self) -> tuple[str, str] | None:
        """The order an operator may cancel: the draft, the postponed or the last confirmed."""
        if self.s.confirm_job is not None:
            return self.s.confirm_job.order_id, self.s.confirm_job.number
        if self.s.draft is not None:
            return self.s.draft.order_id, self.s.draft.number
        live = [c for c in self.s.confirmed if not c.cancelled]
        if live:
            return live[-1].order_id, live[-1].number
        return None

    # --- resend the SMS ------------------------------------------------------------------------

    def check_resend(self, request: OperatorResend) -> None:
        _check_operator(request.operator)
        if not self.s.confirmed:
            raise Refusal(
                "This call's order was never confirmed, so there is no confirmation SMS to resend."
            )
        if self.s.confirmed[-1].cancelled:
            raise Refusal("The order was cancelled; its confirmation SMS is not sent again.")
        if self.s.hung_up and not self.post_call.sms_pending() and self.s.outcome:
            raise Refusal("The call has finished its work; resend from the SMS gateway.")

    def resend_sms(self, request: OperatorResend) -> str:
        confirmed = self.s.confirmed[-1]
        confirmed.resends += 1
        confirmed.sms_key = f"{self.s.call_id}:sms:{confirmed.number}:resend:{confirmed.resends}"
        confirmed.sms_sent, confirmed.sms_rounds = False, 0
        self._audit(request.operator, "resend_sms", confirmed.order_id, confirmed.number)
        return f"The SMS for order {confirmed.number} will be sent again."

    def _audit(
        self,
        operator: str,
        action: str,
        order_id: str | None = None,
        number: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.records.audit(
            AuditEvent.OPERATOR_ACTION,
            order_id=order_id,
            order_number=number or self.s.order_number or None,
            details={"action": action, **({"reason": reason} if reason else {})},
            actor=f"operator:{operator}",
        )


def _check_operator(name: str) -> None:
    if not name.strip() or len(name) > MAX_OPERATOR_NAME:
        raise Refusal('Say who you are: {"operator": "your name"} (1–100 characters).')
