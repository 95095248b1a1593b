"""write_audit: exactly once per key, append-only in the database, read back in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import structlog
from pydantic import ValidationError
from temporalio.testing import ActivityEnvironment

from activities.audit import PostgresAuditActivities, audit_trail
from activities.interfaces.audit import AuditEvent, AuditRecord

PHONE = "+79161234567"
T0 = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)


def record(call_id: str, step: int, event: AuditEvent, /, **fields: object) -> AuditRecord:
    values: dict[str, object] = {
        "event_key": f"{call_id}:audit:{step}",
        "call_id": call_id,
        "workflow_id": call_id,
        "event": event,
        "actor": "bot",
        "order_id": "ord-1",
        "order_number": call_id[-6:],
        "phone": PHONE,
        "details": {"total": 259900, "items": [{"sku": "A-1", "qty": 2}], "note": "курьер"},
        "at": T0 + timedelta(seconds=step),
    }
    values.update(fields)
    return AuditRecord.model_validate(values)


async def test_a_record_is_written_once_even_when_the_activity_runs_twice(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    activities = PostgresAuditActivities(bot_pool)
    first = record(call_id, 1, AuditEvent.ORDER_CONFIRMED)

    assert await activity_env.run(activities.write_audit, first) is True
    assert await activity_env.run(activities.write_audit, first) is False

    trail = await audit_trail(bot_pool, call_id=call_id)
    assert len(trail) == 1
    stored = trail[0]
    assert stored.model_dump(exclude={"id", "recorded_at"}) == first.model_dump()
    assert stored.phone == PHONE  # the audit keeps the full number


async def test_a_reused_key_keeps_the_first_record(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    activities = PostgresAuditActivities(bot_pool)
    await activity_env.run(activities.write_audit, record(call_id, 1, AuditEvent.ORDER_CONFIRMED))
    with structlog.testing.capture_logs() as logs:
        again = record(call_id, 1, AuditEvent.ORDER_CANCELLED)
        assert await activity_env.run(activities.write_audit, again) is False

    [stored] = await audit_trail(bot_pool, call_id=call_id)
    assert stored.event is AuditEvent.ORDER_CONFIRMED
    assert any(line["event"] == "audit key reused for a different action" for line in logs)


async def test_the_trail_is_in_event_time_order_with_ties_in_write_order(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    activities = PostgresAuditActivities(bot_pool)
    # Retries after an outage deliver records late and out of order; `at` (workflow time)
    # puts them back. Records of one workflow task share `at`: write order decides.
    writes = [
        record(call_id, 3, AuditEvent.ORDER_CONFIRMED),
        record(call_id, 1, AuditEvent.ORDER_DRAFT_CREATED),
        record(call_id, 2, AuditEvent.ORDER_DELIVERY_SET),
        record(call_id, 4, AuditEvent.SMS_SENT, at=T0 + timedelta(seconds=3)),
        record(call_id, 5, AuditEvent.ATTENTION_CLEARED, at=T0 + timedelta(seconds=3)),
    ]
    for write in writes:
        await activity_env.run(activities.write_audit, write)

    trail = await audit_trail(bot_pool, call_id=call_id)
    assert [entry.event for entry in trail] == [
        AuditEvent.ORDER_DRAFT_CREATED,
        AuditEvent.ORDER_DELIVERY_SET,
        AuditEvent.ORDER_CONFIRMED,
        AuditEvent.SMS_SENT,
        AuditEvent.ATTENTION_CLEARED,
    ]
    by_order = await audit_trail(bot_pool, order_number=call_id[-6:])
    assert [entry.event_key for entry in by_order] == [entry.event_key for entry in trail]
    assert await audit_trail(bot_pool, call_id=call_id, order_number="000000") == []


async def test_without_a_time_the_record_gets_the_time_of_writing(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    activities = PostgresAuditActivities(bot_pool)
    operator = record(
        call_id, 1, AuditEvent.OPERATOR_ACTION, actor="operator:ivanova", at=None, phone=None
    )
    await activity_env.run(activities.write_audit, operator)

    [stored] = await audit_trail(bot_pool, call_id=call_id)
    assert stored.actor == "operator:ivanova"
    assert abs(stored.at - stored.recorded_at) < timedelta(seconds=1)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE bot.order_audit SET event = 'order_cancelled' WHERE call_id = $1",
        "DELETE FROM bot.order_audit WHERE call_id = $1",
        "TRUNCATE bot.order_audit",
    ],
)
async def test_the_database_refuses_to_change_or_remove_records(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str, statement: str
) -> None:
    await activity_env.run(
        PostgresAuditActivities(bot_pool).write_audit,
        record(call_id, 1, AuditEvent.ORDER_CONFIRMED),
    )
    args = [call_id] if "$1" in statement else []
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await bot_pool.execute(statement, *args)

    [stored] = await audit_trail(bot_pool, call_id=call_id)
    assert stored.event is AuditEvent.ORDER_CONFIRMED


async def test_logs_and_repr_carry_only_the_masked_phone(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    entry = record(call_id, 1, AuditEvent.ORDER_STATUS_VIEWED)
    with structlog.testing.capture_logs() as logs:
        await activity_env.run(PostgresAuditActivities(bot_pool).write_audit, entry)

    assert PHONE not in repr(entry)
    assert PHONE not in repr(logs)
    assert logs[-1]["phone"] == "+7916***4567"


@pytest.mark.parametrize(
    "change",
    [{"actor": "caller"}, {"actor": "operator:"}, {"event": "order_teleported"}, {"event_key": ""}],
)
def test_records_are_validated_before_they_leave_the_workflow(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        record("call-x", 1, AuditEvent.ORDER_CONFIRMED, **change)


async def test_the_trail_needs_a_filter(bot_pool: asyncpg.Pool) -> None:
    with pytest.raises(ValueError, match="call_id or an order_number"):
        await audit_trail(bot_pool)
