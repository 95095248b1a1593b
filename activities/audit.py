"""The order audit trail: one append-only row per action on an order, written exactly once.

The workflow names every record with an `event_key` derived from its id and a step counter,
so a retried `write_audit` (worker crash, PostgreSQL outage) finds its earlier row instead of
adding a second one. The table refuses UPDATE, DELETE and TRUNCATE (see the migration).
"""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
import structlog
from temporalio import activity

from activities.db import database_errors
from activities.interfaces.audit import (
    AuditActivities,
    AuditEvent,
    AuditRecord,
    DeniedLookupsQuery,
)
from activities.interfaces.base import implements
from activities.storable import storable_json, storable_optional, storable_text
from core.phones import mask_phone, mask_phones_in

log = structlog.get_logger(__name__)


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
    """Store `record` unless its key is already there; True when this call wrote it. Text the
    LLM wrote (a cancel reason, a tool's arguments) may hold what PostgreSQL cannot store: it
    is stored with U+FFFD in its place rather than the record being lost."""
    async with pool.acquire() as conn:
        row_id = await conn.fetchval(
            _INSERT,
            storable_text(record.event_key),
            record.at,
            storable_text(record.call_id),
            storable_text(record.workflow_id),
            record.event.value,
            storable_optional(record.order_id),
            storable_optional(record.order_number),
            storable_optional(record.phone),
            storable_text(record.actor),
            json.dumps(storable_json(record.details), ensure_ascii=False),
        )
        if row_id is not None:
            return True
        existing = await conn.fetchrow(_EXISTING, storable_text(record.event_key))
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


class PostgresAuditActivities(AuditActivities):
    """Audit records in the bot's PostgreSQL (append-only bot.order_audit)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @implements(AuditActivities.write_audit)
    async def write_audit(self, record: AuditRecord) -> bool:
        with database_errors(f"write audit {record.event.value}"):
            written = await insert_audit(self._pool, record)
        log.info(
            "audit written" if written else "audit already written",
            audit_event=record.event.value,
            event_key=record.event_key,
            call_id=record.call_id,
            # A caller may say a phone number where an order number belongs (a denied look-up
            # records what was asked): the log gets it masked, the audit row in full.
            order_number=mask_phones_in(record.order_number or "") or None,
            phone=mask_phone(record.phone),
            actor=record.actor,
            attempt=activity.info().attempt,
        )
        return written

    @implements(AuditActivities.count_denied_lookups)
    async def count_denied_lookups(self, query: DeniedLookupsQuery) -> int:
        with database_errors("count denied order look-ups"):
            return await count_denied_lookups(self._pool, query)


_DENIED = """
SELECT count(*) FROM bot.order_audit
WHERE event = $1 AND phone = $2 AND at >= $3 AND call_id <> $4
"""


async def count_denied_lookups(pool: asyncpg.Pool, query: DeniedLookupsQuery) -> int:
    """`order_lookup_denied` records of one phone since `query.since`, other calls only."""
    count = await pool.fetchval(
        _DENIED,
        AuditEvent.ORDER_LOOKUP_DENIED.value,
        storable_text(query.phone),
        query.since,
        storable_text(query.other_than_call),
    )
    return int(count or 0)


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
