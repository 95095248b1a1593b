"""The order audit trail: one append-only row per action on an order, written exactly once.

The workflow names every record with an `event_key` derived from its id and a step counter,
so a retried `write_audit` (worker crash, PostgreSQL outage) finds its earlier row instead of
adding a second one. The table refuses UPDATE, DELETE and TRUNCATE (see the migration).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import asyncpg
import structlog
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from temporalio import activity

from activities.db import database_errors
from core.phones import mask_phone

log = structlog.get_logger(__name__)


class AuditEvent(StrEnum):
    ORDER_STATUS_VIEWED = "order_status_viewed"
    ORDER_LOOKUP_DENIED = "order_lookup_denied"
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


class AuditEntry(AuditRecord):
    """A stored record: what was reported, plus the row id and both timestamps."""

    id: int
    at: datetime
    recorded_at: datetime


_INSERT = """
INSERT INTO bot.order_audit
    (event_key, at, call_id, workflow_id, event, order_id, order_number, phone, actor, details)
VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
ON CONFLICT (event_key) DO NOTHING
RETURNING id
"""

_EXISTING = "SELECT call_id, event FROM bot.order_audit WHERE event_key = $1"


async def insert_audit(pool: asyncpg.Pool, record: AuditRecord) -> bool:
    """Store `record` unless its key is already there; True when this call wrote it."""
    async with pool.acquire() as conn:
        row_id = await conn.fetchval(
            _INSERT,
            record.event_key,
            record.at,
            record.call_id,
            record.workflow_id,
            record.event.value,
            record.order_id,
            record.order_number,
            record.phone,
            record.actor,
            json.dumps(record.details, ensure_ascii=False),
        )
        if row_id is not None:
            return True
        existing = await conn.fetchrow(_EXISTING, record.event_key)
    if existing is not None and (existing["call_id"], existing["event"]) != (
        record.call_id,
        record.event.value,
    ):
        # Two different actions sharing a key means the workflow derives keys wrongly; the
        # first record stays (the trail is append-only), but say so loudly.
        log.error(
            "audit key reused for a different action",
            event_key=record.event_key,
            stored_event=existing["event"],
            audit_event=record.event.value,
        )
    return False


class AuditActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="write_audit")
    async def write_audit(self, record: AuditRecord) -> bool:
        """True if written now, False if an earlier attempt already wrote it."""
        with database_errors(f"write audit {record.event.value}"):
            written = await insert_audit(self._pool, record)
        log.info(
            "audit written" if written else "audit already written",
            audit_event=record.event.value,
            event_key=record.event_key,
            call_id=record.call_id,
            order_number=record.order_number,
            phone=mask_phone(record.phone),
            actor=record.actor,
            attempt=activity.info().attempt,
        )
        return written


_TRAIL = """
SELECT id, event_key, at, recorded_at, call_id, workflow_id, event, order_id, order_number,
       phone, actor, details::text AS details
FROM bot.order_audit
WHERE ($1::text IS NULL OR call_id = $1) AND ($2::text IS NULL OR order_number = $2)
ORDER BY at, id
"""


async def audit_trail(
    pool: asyncpg.Pool, *, call_id: str | None = None, order_number: str | None = None
) -> list[AuditEntry]:
    """The records of one call and/or one order, oldest first (same time: written first)."""
    if call_id is None and order_number is None:
        raise ValueError("audit_trail needs a call_id or an order_number")
    rows = await pool.fetch(_TRAIL, call_id, order_number)
    return [
        AuditEntry.model_validate({**dict(row), "details": json.loads(row["details"])})
        for row in rows
    ]
