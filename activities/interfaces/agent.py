"""The LLM agent's turn as the workflow sees it: the conversation so far and the tools it may
propose in, the model's words or tool calls out.

Failures are typed for the workflow (`core.vocabulary.ErrorType`): `LlmUnavailable` (a
retryable outage, breaker open), `LlmNotConfigured` (no endpoint set) and `LlmBadRequest`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from temporalio import activity

from activities.interfaces.base import ActivityModel
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


class AgentReply(ActivityModel):
    text: str | None
    tool_calls: list[ToolCall]
    ms: int


class AgentActivities(ABC):
    """Implemented by `activities.agent.OpenAiAgentActivities` (any OpenAI-compatible LLM)."""

    @activity.defn(name="agent_turn")
    @abstractmethod
    async def agent_turn(self, request: AgentRequest) -> AgentReply: ...
