"""The call log: turns written once, call start and end upserted in either order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from temporalio.testing import ActivityEnvironment

from activities.call_log import PostgresCallLogActivities
from activities.interfaces.call_log import (
    CallEnded,
    CallStarted,
    ToolCallLog,
    TurnBatch,
    TurnRecord,
    TurnTimings,
)

PHONE = "+79161234567"
T0 = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)


def turn(call_id: str, turn_no: int, reply: str = "Ваш заказ уже в пути.") -> TurnRecord:
    return TurnRecord(
        call_id=call_id,
        turn_no=turn_no,
        caller_text="где мой заказ? мой номер +7 916 123-45-67",
        reply_text=reply,
        action="continue",
        stage="LISTENING",
        tools=[
            ToolCallLog(
                name="get_order_status",
                arguments={"order_number": "100245"},
                outcome="ok",
                ms=42.5,
            ),
            ToolCallLog(name="confirm_order", outcome="denied", error_code="WRONG_STAGE", ms=0),
        ],
        timings=TurnTimings(agent_ms=310, tools_ms=42.5, total_ms=371, stt_ms=120),
        at=T0 + timedelta(seconds=turn_no),
    )


async def test_a_turn_is_written_once(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    assert await activity_env.run(log.record_turn, turn(call_id, 1)) is True
    # A retry carries the same turn; even a differing reply must not overwrite the first.
    assert await activity_env.run(log.record_turn, turn(call_id, 1, reply="другое")) is False
    assert await activity_env.run(log.record_turn, turn(call_id, 2)) is True

    rows = await bot_pool.fetch(
        "SELECT turn_no, reply_text, tools::text, timings::text, created_at"
        " FROM bot.call_turns WHERE call_id = $1 ORDER BY turn_no",
        call_id,
    )
    assert [row["turn_no"] for row in rows] == [1, 2]
    assert rows[0]["reply_text"] == "Ваш заказ уже в пути."
    assert rows[0]["created_at"] == T0 + timedelta(seconds=1)
    assert json.loads(rows[0]["tools"]) == [
        {
            "name": "get_order_status",
            "arguments": {"order_number": "100245"},
            "outcome": "ok",
            "error_code": None,
            "ms": 42.5,
        },
        {
            "name": "confirm_order",
            "arguments": {},
            "outcome": "denied",
            "error_code": "WRONG_STAGE",
            "ms": 0,
        },
    ]
    assert json.loads(rows[0]["timings"]) == {
        "agent_ms": 310,
        "tools_ms": 42.5,
        "total_ms": 371,
        "stt_ms": 120,
    }


async def test_turns_written_together_are_each_written_once(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    assert await activity_env.run(log.record_turn, turn(call_id, 2)) is True
    # A batch holding a turn already written (a retry after a lost answer) writes the rest.
    batch = TurnBatch(turns=[turn(call_id, n, reply=f"ответ {n}") for n in (1, 2, 3)])
    assert await activity_env.run(log.record_turns, batch) == 2
    assert await activity_env.run(log.record_turns, batch) == 0

    rows = await bot_pool.fetch(
        "SELECT turn_no, reply_text, tools::text, created_at"
        " FROM bot.call_turns WHERE call_id = $1 ORDER BY turn_no",
        call_id,
    )
    assert [(r["turn_no"], r["reply_text"]) for r in rows] == [
        (1, "ответ 1"),
        (2, "Ваш заказ уже в пути."),  # the first write stands
        (3, "ответ 3"),
    ]
    assert [r["created_at"] for r in rows] == [T0 + timedelta(seconds=n) for n in (1, 2, 3)]
    assert rows[0]["tools"] == (
        await bot_pool.fetchval(
            "SELECT tools::text FROM bot.call_turns WHERE call_id = $1 AND turn_no = 2", call_id
        )
    ), "a turn is stored alike whichever activity wrote it"


async def test_start_then_end_fills_one_row(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    started = CallStarted(call_id=call_id, caller_phone=PHONE, started_at=T0, agent_mode="llm")
    ended = CallEnded(
        call_id=call_id,
        ended_at=T0 + timedelta(minutes=3),
        outcome="order_confirmed",
        last_stage="SMS_SENT",
        order_number="100245",
        agent_mode="guided",
    )
    assert await activity_env.run(log.record_call_started, started) is True
    assert await activity_env.run(log.record_call_started, started) is False
    assert await activity_env.run(log.record_call_ended, ended) is False
    assert await activity_env.run(log.record_call_ended, ended) is False

    row = await bot_pool.fetchrow("SELECT * FROM bot.calls WHERE call_id = $1", call_id)
    assert row is not None
    assert dict(row) | {"updated_at": None} == {
        "call_id": call_id,
        "caller_phone": PHONE,
        "withheld": False,
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=3),
        "outcome": "order_confirmed",
        "last_stage": "SMS_SENT",
        "order_number": "100245",
        "agent_mode": "guided",
        "updated_at": None,
    }


async def test_an_end_that_arrives_first_is_not_undone_by_a_late_start(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    ended = CallEnded(
        call_id=call_id,
        ended_at=T0 + timedelta(minutes=1),
        outcome="abandoned",
        last_stage="DRAFTING",
        agent_mode="guided",
    )
    started = CallStarted(call_id=call_id, withheld=True, started_at=T0, agent_mode="llm")
    assert await activity_env.run(log.record_call_ended, ended) is True
    assert await activity_env.run(log.record_call_started, started) is False

    row = await bot_pool.fetchrow("SELECT * FROM bot.calls WHERE call_id = $1", call_id)
    assert row is not None
    assert (row["caller_phone"], row["withheld"], row["started_at"]) == (None, True, T0)
    assert (row["outcome"], row["last_stage"], row["agent_mode"]) == (
        "abandoned",
        "DRAFTING",
        "guided",
    )


async def test_logs_never_carry_the_full_phone_or_what_was_said(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, call_id: str
) -> None:
    log = PostgresCallLogActivities(bot_pool)
    with structlog.testing.capture_logs() as logs:
        await activity_env.run(
            log.record_call_started,
            CallStarted(call_id=call_id, caller_phone=PHONE, started_at=T0),
        )
        await activity_env.run(log.record_turn, turn(call_id, 1))
        await activity_env.run(log.record_turns, TurnBatch(turns=[turn(call_id, 2)]))

    text = repr(logs)
    assert PHONE not in text
    assert "916 123-45-67" not in text
    assert "где мой заказ" not in text
    assert "+7916***4567" in text
    assert (
        await bot_pool.fetchval("SELECT caller_phone FROM bot.calls WHERE call_id = $1", call_id)
    ) == PHONE


def test_a_hallucinated_tool_name_is_clipped_not_refused() -> None:
    # Built inside the workflow from what the LLM said: refusing would fail the workflow task.
    assert ToolCallLog(name="x" * 500, outcome="denied").name == "x" * 64
    assert ToolCallLog(name="", outcome="denied").name == "?"
