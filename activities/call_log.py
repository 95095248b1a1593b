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
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import structlog
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from temporalio import activity

from activities.db import database_errors
from core.phones import mask_phone

log = structlog.get_logger(__name__)

CallId = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
Millis = Annotated[float, Field(ge=0)]


class CallStarted(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: CallId = Field(description="The workflow id, e.g. 'call-<uuid>'.")
    caller_phone: str | None = Field(default=None, max_length=32, repr=False)
    withheld: bool = False
    started_at: datetime
    agent_mode: Label | None = Field(default=None, description="e.g. 'llm' or 'guided'.")


def _clip_tool_name(value: object) -> str:
    return str(value)[:64] or "?"


# The name is whatever the LLM proposed, built into this model inside the workflow: a
# validation error there would fail the workflow task, so clip instead of refusing.
ToolName = Annotated[str, BeforeValidator(_clip_tool_name)]


class ToolCallLog(BaseModel):
    """One tool call proposed in a turn and what became of it."""

    model_config = ConfigDict(frozen=True)

    name: ToolName
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    outcome: Literal["ok", "error", "denied"]
    error_code: str | None = None
    ms: Millis = 0


class TurnTimings(BaseModel):
    """Where the turn's time went, in milliseconds; further stages may be added freely."""

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, Millis] = Field(init=False)

    agent_ms: Millis = 0
    tools_ms: Millis = 0
    total_ms: Millis = 0


class TurnRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: CallId
    turn_no: Annotated[int, Field(ge=0)]
    caller_text: str
    reply_text: str
    action: Label = Field(description="What the edge does next: continue, transfer, hangup.")
    stage: Label | None = Field(default=None, description="The call stage after the turn.")
    tools: list[ToolCallLog] = Field(default_factory=list)
    timings: TurnTimings = Field(default_factory=TurnTimings)
    at: datetime | None = Field(default=None, description="workflow.now(); None: write time.")


class CallEnded(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: CallId
    ended_at: datetime
    outcome: Label
    last_stage: Label
    order_number: str | None = None
    agent_mode: Label | None = None


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


class CallLogActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_call_started")
    async def record_call_started(self, call: CallStarted) -> bool:
        """True when the call's row is new."""
        with database_errors("record call start"):
            inserted = await self._pool.fetchval(
                _CALL_STARTED,
                call.call_id,
                call.caller_phone,
                call.withheld,
                call.started_at,
                call.agent_mode,
            )
        log.info(
            "call started",
            call_id=call.call_id,
            caller=mask_phone(call.caller_phone),
            withheld=call.withheld,
            agent_mode=call.agent_mode,
        )
        return bool(inserted)

    @activity.defn(name="record_turn")
    async def record_turn(self, turn: TurnRecord) -> bool:
        """True if written now, False if an earlier attempt already wrote this turn."""
        tools = [tool.model_dump(mode="json") for tool in turn.tools]
        with database_errors(f"record turn {turn.turn_no}"):
            written = await self._pool.fetchval(
                _TURN,
                turn.call_id,
                turn.turn_no,
                turn.caller_text,
                turn.reply_text,
                turn.action,
                turn.stage,
                json.dumps(tools, ensure_ascii=False),
                json.dumps(turn.timings.model_dump(mode="json")),
                turn.at,
            )
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
        return bool(written)

    @activity.defn(name="record_call_ended")
    async def record_call_ended(self, call: CallEnded) -> bool:
        """True when the call's row is new (its start was never recorded)."""
        with database_errors("record call end"):
            inserted = await self._pool.fetchval(
                _CALL_ENDED,
                call.call_id,
                call.ended_at,
                call.outcome,
                call.last_stage,
                call.order_number,
                call.agent_mode,
            )
        log.info(
            "call ended",
            call_id=call.call_id,
            outcome=call.outcome,
            last_stage=call.last_stage,
            order_number=call.order_number,
        )
        return bool(inserted)
