"""`LookupLimits` in the call: the caps on guessing order numbers (issue 12, SEC1).

A caller who knows a customer's phone could try order number after order number and hear
the status of every one that matches. Look-ups by number that match none of the phone's
orders are counted — in the call's state for this call, and in the audit trail
(`order_lookup_denied`, with the phone) across calls — and once either cap is reached no
look-up by number is made: the agent gets a tool error telling it to offer an operator, and
the refusal is audited (`order_lookup_refused`).

A look-up without a number (a caller with CallerID asking for their own orders) is never
capped: it can only ever list the orders of the verified phone.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditActivities, AuditEvent, DeniedLookupsQuery
    from core.vocabulary import ErrorType
    from workflows.state import CallInput, CallState

from workflows.activity_options import ACTIVITY_FAILED, error_type, in_call
from workflows.records import CallRecords
from workflows.tool_outcome import ToolOutcome

# Patch id: calls recorded before the caps look up every number they are asked for.
LOOKUP_LIMITS = "lookup-limits-1"

LIMIT_REACHED = (
    "Слишком много попыток найти заказ по номеру: больше не ищите заказы по номеру в этом "
    "звонке. Извинитесь и предложите соединить с оператором."
)


class LookupGuard:
    """Counts failed look-ups by number and refuses the next one once a cap is reached.
    Its own state: none — the count of this call lives in `CallState.failed_lookups`, so it
    survives continue-as-new."""

    def __init__(self, call: CallInput, s: CallState, records: CallRecords) -> None:
        self.limits = call.lookup_limits
        self.s = s
        self.records = records

    async def refusal(self, order_number: str, phone: str) -> ToolOutcome | None:
        """None when a look-up of `order_number` for `phone` may be made; else the refusal
        (audited) for the agent."""
        if not workflow.patched(LOOKUP_LIMITS):
            return None
        failed_here = self.s.failed_lookups
        if failed_here >= self.limits.per_call:
            return self._refuse(order_number, "per_call", failed_here, self.limits.per_call)
        failed_elsewhere = await self._failed_in_other_calls(phone)
        total = failed_elsewhere + failed_here
        if total >= self.limits.per_phone:
            return self._refuse(order_number, "per_phone", total, self.limits.per_phone)
        return None

    def failed(self) -> None:
        """A look-up by number matched none of the phone's orders."""
        if workflow.patched(LOOKUP_LIMITS):
            self.s.failed_lookups += 1

    async def _failed_in_other_calls(self, phone: str) -> int:
        """Denied look-ups of `phone` in other calls within the window. The bot's database
        unreachable counts as none: the per-call cap still holds, and a caller asking for
        their order is not turned away for an outage of ours."""
        try:
            return await in_call(
                AuditActivities.count_denied_lookups,
                DeniedLookupsQuery(
                    phone=phone,
                    since=workflow.now() - timedelta(hours=self.limits.window_h),
                    other_than_call=self.s.call_id,
                ),
                summary="count failed order look-ups of the phone",
            )
        except ACTIVITY_FAILED as exc:
            self.s.last_error = error_type(exc)
            return 0

    def _refuse(self, order_number: str, cap: str, failed: int, limit: int) -> ToolOutcome:
        self.records.audit(
            AuditEvent.ORDER_LOOKUP_REFUSED,
            order_number=order_number,
            details={"cap": cap, "failed": failed, "limit": limit},
        )
        return ToolOutcome(
            {"error": LIMIT_REACHED, "code": ErrorType.LOOKUP_LIMIT_REACHED}, error=True
        )
