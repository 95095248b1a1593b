"""The LLM agent's turn as the workflow sees it: the conversation so far and the tools it may
propose in, the model's words or tool calls out.

With a `stream` target the activity sends each sentence to the edge as soon as the model has
written it (docs/streaming.md) and says in `AgentReply.spoken` which sentences of this step
the caller hears, or may already have heard: the workflow records exactly those, so the
caller never hears words its record does not hold.

Failures are typed for the workflow (`core.vocabulary.ErrorType`): `LlmUnavailable` (a
retryable outage, breaker open), `LlmNotConfigured` (no endpoint set) and `LlmBadRequest`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import Field
from temporalio import activity

from activities.interfaces.base import ActivityModel
from core.reply_stream import StreamTarget
from core.vocabulary import ToolName


class ToolCall(ActivityModel):
    """A tool call as the model proposed it: the name may be no tool of ours, the arguments
    any text (the workflow validates both)."""

    id: str
    name: str
    arguments: str


class AgentRequest(ActivityModel):
    call_id: str
    messages: list[dict[str, Any]]
    tools: list[ToolName]
    # Streaming: where the turn's sentences go, which model step of the turn this is (0, 1,
    # …: a later step outranks every attempt of an earlier one at the edge), and the turn's
    # sentences the workflow has recorded as spoken by earlier steps.
    stream: StreamTarget | None = None
    step: int = 0
    spoken_before: list[str] = Field(default_factory=list)


class AgentReply(ActivityModel):
    text: str | None
    tool_calls: list[ToolCall]
    ms: int
    # A streamed step (the request had a target): this step's sentences as the caller hears
    # them, in order - what the edge holds from an earlier attempt of the step, then this
    # attempt's; with tool calls, the words before them that went out to the edge. None: not
    # streamed, the workflow makes the sentences from `text` as before.
    spoken: list[str] | None = None


class StreamedSoFarRequest(ActivityModel):
    stream: StreamTarget
    # Opens the turn as this step, so nothing of an earlier step can be added afterwards.
    step: int


class StreamedSoFar(ActivityModel):
    """The sentences the edge holds for a turn; `known` is False when it could not be asked."""

    sentences: list[str]
    known: bool


class AgentActivities(ABC):
    """Implemented by `activities.agent.OpenAiAgentActivities` (any OpenAI-compatible LLM)."""

    @activity.defn(name="agent_turn")
    @abstractmethod
    async def agent_turn(self, request: AgentRequest) -> AgentReply: ...

    @activity.defn(name="streamed_so_far")
    @abstractmethod
    async def streamed_so_far(self, request: StreamedSoFarRequest) -> StreamedSoFar:
        """What the caller may have heard of a streamed turn whose agent step failed: the
        workflow puts it at the start of the reply it records."""
