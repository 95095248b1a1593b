"""The order audit trail as the workflow sees it: one record per action on an order.

Every record carries an `event_key` unique to the action (the workflow derives it from the call,
the run and a counter), so a retried write finds its earlier row instead of adding a second.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from temporalio import activity


class AuditEvent(StrEnum):
    ORDER_STATUS_VIEWED = "order_status_viewed"
    ORDER_LOOKUP_DENIED = "order_lookup_denied"
    # A look-up not made: failed look-ups reached their cap (per call or per phone).
    ORDER_LOOKUP_REFUSED = "order_lookup_refused"
    ORDER_DRAFT_CREATED = "order_draft_created"
    ORDER_DRAFT_REPLACED = "order_draft_replaced"
    ORDER_DELIVERY_SET = "order_delivery_set"
    ORDER_READBACK_SPOKEN = "order_readback_spoken"
    ORDER_CONFIRMED = "order_confirmed"
    ORDER_CONFIRM_FAILED = "order_confirm_failed"
    ORDER_CANCELLED = "order_cancelled"
    SMS_SENT = "sms_sent"
    SMS_FAILED = "sms_failed"
    CALL_TRANSFERRED = "call_transferred"
    AGENT_MODE_SWITCHED = "agent_mode_switched"
    ATTENTION_SET = "attention_set"
    ATTENTION_CLEARED = "attention_cleared"
    OPERATOR_ACTION = "operator_action"


ShortText = Annotated[str, Field(min_length=1, max_length=200)]
# 'bot', 'system' or 'operator:<name>' — who did it, as the database's CHECK also insists.
Actor = Annotated[str, Field(pattern=r"^(bot|system|operator:.+)$", max_length=200)]


class AuditRecord(BaseModel):
    """One action on an order, as the workflow reports it."""

    model_config = ConfigDict(frozen=True)

    event_key: ShortText = Field(description="Unique per action; e.g. '<workflow id>:audit:7'.")
    call_id: ShortText
    workflow_id: ShortText
    event: AuditEvent
    actor: Actor
    order_id: str | None = None
    order_number: str | None = None
    # Full number: the audit is the one place that keeps it. Hidden from repr so a logged
    # record does not leak it.
    phone: str | None = Field(default=None, max_length=32, repr=False)
    details: dict[str, JsonValue] = Field(default_factory=dict)
    at: datetime | None = Field(
        default=None,
        description="When it happened: pass workflow.now(); None means when it is written.",
    )


class DeniedLookupsQuery(BaseModel):
    """Which `order_lookup_denied` records to count: those of one phone since a time, from
    calls other than the asking one (it counts its own in its state)."""

    model_config = ConfigDict(frozen=True)

    phone: str = Field(min_length=1, max_length=32, repr=False)
    since: datetime
    other_than_call: ShortText


class AuditActivities(ABC):
    """Implemented by `activities.audit.PostgresAuditActivities` (bot.order_audit)."""

    @activity.defn(name="write_audit")
    @abstractmethod
    async def write_audit(self, record: AuditRecord) -> bool:
        """True if written now, False if an earlier attempt already wrote it."""

    @activity.defn(name="count_denied_lookups")
    @abstractmethod
    async def count_denied_lookups(self, query: DeniedLookupsQuery) -> int:
        """How many order look-ups of this phone found nothing, in other calls since then."""
