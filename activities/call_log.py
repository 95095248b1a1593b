"""The call log: one row per call in bot.calls and one per caller turn in bot.call_turns.

Every write is idempotent so the workflow can retry it blindly: turns are keyed by
(call_id, turn_no), and the start and end of a call are upserts that touch only their own
columns, because after an outage their retries can land in either order. Times come from the
workflow (workflow.now()), not from the database, for the same reason.

Full phone numbers and what the caller said go to the database only; logs get the masked
number and counts.
"""

from __future__ import annotations

import json

import asyncpg
import structlog

from activities.db import database_errors
from activities.interfaces.base import implements
from activities.interfaces.call_log import (
    CallEnded,
    CallLogActivities,
    CallStarted,
    TurnBatch,
    TurnRecord,
)
from activities.storable import storable_json, storable_optional, storable_text
from core.phones import mask_phone, mask_phones_in

log = structlog.get_logger(__name__)

# `xmax = 0` holds only for a row this statement inserted (not one it updated).
_CALL_STARTED = """
INSERT INTO bot.calls AS c (call_id, caller_phone, withheld, started_at, agent_mode)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (call_id) DO UPDATE SET
    caller_phone = EXCLUDED.caller_phone,
    withheld = EXCLUDED.withheld,
    started_at = EXCLUDED.started_at,
    agent_mode = coalesce(c.agent_mode, EXCLUDED.agent_mode),
    updated_at = now()
RETURNING (xmax = 0) AS inserted
"""

_CALL_ENDED = """
INSERT INTO bot.calls AS c (call_id, ended_at, outcome, last_stage, order_number, agent_mode)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (call_id) DO UPDATE SET
    ended_at = EXCLUDED.ended_at,
    outcome = EXCLUDED.outcome,
    last_stage = EXCLUDED.last_stage,
    order_number = coalesce(EXCLUDED.order_number, c.order_number),
    agent_mode = coalesce(EXCLUDED.agent_mode, c.agent_mode),
    updated_at = now()
RETURNING (xmax = 0) AS inserted
"""

_TURN = """
INSERT INTO bot.call_turns
    (call_id, turn_no, caller_text, reply_text, action, stage, tools, timings, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, coalesce($9, now()))
ON CONFLICT (call_id, turn_no) DO NOTHING
RETURNING true
"""


def _turn_row(turn: TurnRecord) -> tuple[object, ...]:
    """The row of one turn; text PostgreSQL cannot hold (NUL, lone surrogates) as U+FFFD."""
    tools = storable_json([tool.model_dump(mode="json") for tool in turn.tools])
    return (
        storable_text(turn.call_id),
        turn.turn_no,
        storable_text(turn.caller_text),
        storable_text(turn.reply_text),
        storable_text(turn.action),
        storable_optional(turn.stage),
        json.dumps(tools, ensure_ascii=False),
        json.dumps(turn.timings.model_dump(mode="json")),
        turn.at,
    )


def _log_turn(turn: TurnRecord, written: bool) -> None:
    # Only shapes and numbers: the texts and tool arguments can hold personal data.
    log.info(
        "turn recorded" if written else "turn already recorded",
        call_id=turn.call_id,
        turn_no=turn.turn_no,
        action=turn.action,
        stage=turn.stage,
        tools=[f"{tool.name}:{tool.outcome}" for tool in turn.tools],
        total_ms=turn.timings.total_ms,
    )


class PostgresCallLogActivities(CallLogActivities):
    """The call log in the bot's PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @implements(CallLogActivities.record_call_started)
    async def record_call_started(self, call: CallStarted) -> bool:
        """True when the call's row is new."""
        with database_errors("record call start"):
            inserted = await self._pool.fetchval(
                _CALL_STARTED,
                storable_text(call.call_id),
                storable_optional(call.caller_phone),
                call.withheld,
                call.started_at,
                storable_optional(call.agent_mode),
            )
        log.info(
            "call started",
            call_id=call.call_id,
            caller=mask_phone(call.caller_phone),
            withheld=call.withheld,
            agent_mode=call.agent_mode,
        )
        return bool(inserted)

    @implements(CallLogActivities.record_turn)
    async def record_turn(self, turn: TurnRecord) -> bool:
        """True if written now, False if an earlier attempt already wrote this turn. What the
        caller and the LLM said is stored as said, except for what PostgreSQL cannot hold (NUL,
        lone surrogates), which becomes U+FFFD: a turn is never lost to its text."""
        with database_errors(f"record turn {turn.turn_no}"):
            written = await self._pool.fetchval(_TURN, *_turn_row(turn))
        _log_turn(turn, bool(written))
        return bool(written)

    @implements(CallLogActivities.record_turns)
    async def record_turns(self, batch: TurnBatch) -> int:
        """How many of the turns were written now (a retry finds the others written)."""
        written: set[int] = set()
        with database_errors(f"record turns {batch.turns[0].turn_no}-{batch.turns[-1].turn_no}"):
            async with self._pool.acquire() as conn, conn.transaction():
                for turn in batch.turns:
                    if await conn.fetchval(_TURN, *_turn_row(turn)):
                        written.add(turn.turn_no)
        for turn in batch.turns:
            _log_turn(turn, turn.turn_no in written)
        return len(written)

    @implements(CallLogActivities.record_call_ended)
    async def record_call_ended(self, call: CallEnded) -> bool:
        """True when the call's row is new (its start was never recorded)."""
        with database_errors("record call end"):
            inserted = await self._pool.fetchval(
                _CALL_ENDED,
                storable_text(call.call_id),
                call.ended_at,
                storable_text(call.outcome),
                storable_text(call.last_stage),
                storable_optional(call.order_number),
                storable_optional(call.agent_mode),
            )
        log.info(
            "call ended",
            call_id=call.call_id,
            outcome=call.outcome,
            last_stage=call.last_stage,
            order_number=mask_phones_in(call.order_number or "") or None,
        )
        return bool(inserted)
