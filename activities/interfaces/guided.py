"""The guided agent's turn as the workflow sees it: what the LLM agent gets, plus the guided
dialog's memory, in; the same kind of answer (a line or a tool call) plus the new memory, out.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from typing import Any

from temporalio import activity

from activities.interfaces.agent import AgentReply
from activities.interfaces.base import ActivityModel
from core.vocabulary import Stage, ToolName
from guided.memory import GuidedMemory


class GuidedRequest(ActivityModel):
    call_id: str
    messages: list[dict[str, Any]]  # from the caller's last line on
    previous_reply: str = ""  # what the caller heard last ("повторите" says it again)
    # Keys pressed as this turn (a number typed on the keypad), instead of words.
    keypad: str | None = None
    tools: list[ToolName]
    stage: Stage
    today: dt.date
    withheld: bool
    phone_known: bool
    memory: GuidedMemory


class GuidedReply(AgentReply):
    memory: GuidedMemory


class GuidedActivities(ABC):
    """Implemented by `activities.guided.GuidedPolicyActivities` (`guided.policy.decide`)."""

    @activity.defn(name="guided_turn")
    @abstractmethod
    async def guided_turn(self, request: GuidedRequest) -> GuidedReply: ...
