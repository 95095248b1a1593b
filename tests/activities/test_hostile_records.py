"""Records of hostile text are stored, never refused (issue 12 item 7), logs mask a phone said
where an order number belongs, and the guessing cap's count of denied look-ups."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from temporalio.testing import ActivityEnvironment

from activities.audit import PostgresAuditActivities, audit_trail
from activities.call_log import PostgresCallLogActivities
from activities.interfaces.audit import AuditEvent, AuditRecord, DeniedLookupsQuery
from activities.interfaces.call_log import CallEnded, ToolCallLog, TurnRecord
from activities.storable import REPLACEMENT, storable_json, storable_text

T0 = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = "\x00\x01\x02 <script>alert(1)</script> \u202eRTL\ud800 конец"


def audit(call_id: str, step: int, event: AuditEvent, **fields: object) -> AuditRecord:
    values: dict[str, object] = {
        "event_key": f"{call_id}:audit:{step}",
        "call_id": call_id,
        "workflow_id": call_id,
        "event": event,
        "actor": "bot",
        "at": T0 + timedelta(seconds=step),
    }
    values.update(fields)
    return AuditRecord.model_validate(values)


def test_storable_values_replace_only_what_postgresql_refuses() -> None:
    assert storable_text(HOSTILE) == HOSTILE.replace("\x00", REPLACEMENT).replace(
        "\ud800", REPLACEMENT
    )
    assert storable_text("обычный текст\tс табом\n") == "обычный текст\tс табом\n"
    assert storable_json(
        {"a\x00": ["x\x00", math.nan, math.inf, 1.5, 2, None, True, {"b": "\udfff"}]}
    ) == {
        f"a{REPLACEMENT}": [f"x{REPLACEMENT}", None, None, 1.5, 2, None, True, {"b": REPLACEMENT}]
    }


async def test_an_audit_record_of_hostile_text_is_stored_not_refused(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    record = audit(
        call_id,
        1,
        AuditEvent.ORDER_CANCELLED,
        order_number="100\x00101",
        details={"reason": HOSTILE, "nan": math.nan, HOSTILE: [HOSTILE]},
    )
    assert await activity_env.run(PostgresAuditActivities(bot_pool).write_audit, record) is True
    [stored] = await audit_trail(bot_pool, call_id=call_id)
    assert stored.details["reason"] == storable_text(HOSTILE)
    assert stored.details["nan"] is None
    assert stored.order_number == f"100{REPLACEMENT}101"


async def test_a_turn_of_hostile_text_is_stored_not_refused(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    turn = TurnRecord(
        call_id=call_id,
        turn_no=1,
        caller_text=HOSTILE,
        reply_text=HOSTILE,
        action="continue",
        stage="LISTENING",
        tools=[ToolCallLog(name="x\x00", arguments={"raw": HOSTILE}, outcome="error")],
        at=T0,
    )
    assert await activity_env.run(log.record_turn, turn) is True
    ended = CallEnded(
        call_id=call_id, ended_at=T0, outcome="hung_up", last_stage="ENDED", order_number="1\x00"
    )
    await activity_env.run(log.record_call_ended, ended)
    row = await bot_pool.fetchrow(
        "SELECT caller_text, reply_text, tools::text FROM bot.call_turns WHERE call_id = $1",
        call_id,
    )
    assert row is not None and row["caller_text"] == storable_text(HOSTILE)
    assert json.loads(row["tools"])[0]["arguments"] == {"raw": storable_text(HOSTILE)}


async def test_a_phone_said_as_an_order_number_is_masked_in_the_log_kept_in_the_audit(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    said = "89161234567"
    record = audit(call_id, 1, AuditEvent.ORDER_LOOKUP_DENIED, order_number=said)
    ended = CallEnded(
        call_id=call_id, ended_at=T0, outcome="hung_up", last_stage="ENDED", order_number=said
    )
    with structlog.testing.capture_logs() as logs:
        await activity_env.run(PostgresAuditActivities(bot_pool).write_audit, record)
        await activity_env.run(PostgresCallLogActivities(bot_pool).record_call_ended, ended)
    assert "9161234567" not in repr(logs)
    assert [line["order_number"] for line in logs] == ["8916***4567", "8916***4567"]
    [stored] = await audit_trail(bot_pool, call_id=call_id)
    assert stored.order_number == said, "the audit keeps what was asked, in full"
    # An order number stays readable.
    with structlog.testing.capture_logs() as logs:
        await activity_env.run(
            PostgresAuditActivities(bot_pool).write_audit,
            audit(call_id, 2, AuditEvent.ORDER_STATUS_VIEWED, order_number="100101"),
        )
    assert logs[-1]["order_number"] == "100101"


async def test_denied_lookups_are_counted_per_phone_since_a_time_in_other_calls(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment
) -> None:
    phone = f"+7999{uuid.uuid4().int % 10_000_000:07d}"
    other_phone = f"+7998{uuid.uuid4().int % 10_000_000:07d}"
    asking, earlier = f"call-{uuid.uuid4()}", f"call-{uuid.uuid4()}"
    activities = PostgresAuditActivities(bot_pool)
    denied = AuditEvent.ORDER_LOOKUP_DENIED
    for step, (call, who, event, at) in enumerate(
        [
            (earlier, phone, denied, T0),  # counted
            (earlier, phone, denied, T0 + timedelta(hours=1)),  # counted
            (earlier, phone, denied, T0 - timedelta(seconds=1)),  # before the window
            (earlier, other_phone, denied, T0),  # another phone
            (earlier, phone, AuditEvent.ORDER_STATUS_VIEWED, T0),  # not a denial
            (asking, phone, denied, T0),  # the asking call counts its own
        ]
    ):
        record = audit(call, step, event, phone=who, at=at, order_number="777")
        await activity_env.run(activities.write_audit, record)
    query = DeniedLookupsQuery(phone=phone, since=T0, other_than_call=asking)
    assert await activity_env.run(activities.count_denied_lookups, query) == 2
    assert phone not in repr(query)
