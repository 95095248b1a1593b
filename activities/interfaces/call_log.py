"""The call log as the workflow sees it: a call's start and end, and one record per turn.

Every write is idempotent (turns are keyed by call and turn number; start and end are upserts
of their own columns), so the workflow retries them blindly and off the reply path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from temporalio import activity

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
ProposedToolName = Annotated[str, BeforeValidator(_clip_tool_name)]


class ToolCallLog(BaseModel):
    """One tool call proposed in a turn and what became of it."""

    model_config = ConfigDict(frozen=True)

    name: ProposedToolName
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


class TurnBatch(BaseModel):
    """Turns of one call written together: the workflow keeps a few turns' records and
    writes them in one background activity (see `workflows.records`)."""

    model_config = ConfigDict(frozen=True)

    turns: Annotated[list[TurnRecord], Field(min_length=1)]


class CallEnded(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: CallId
    ended_at: datetime
    outcome: Label
    last_stage: Label
    order_number: str | None = None
    agent_mode: Label | None = None


class CallLogActivities(ABC):
    """Implemented by `activities.call_log.PostgresCallLogActivities` (bot.calls and
    bot.call_turns)."""

    @activity.defn(name="record_call_started")
    @abstractmethod
    async def record_call_started(self, call: CallStarted) -> bool: ...

    # One turn per activity: what calls started before `record_turns` still schedule.
    @activity.defn(name="record_turn")
    @abstractmethod
    async def record_turn(self, turn: TurnRecord) -> bool: ...

    @activity.defn(name="record_turns")
    @abstractmethod
    async def record_turns(self, batch: TurnBatch) -> int: ...

    @activity.defn(name="record_call_ended")
    @abstractmethod
    async def record_call_ended(self, call: CallEnded) -> bool: ...
