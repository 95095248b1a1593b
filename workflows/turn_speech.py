"""What a caller turn has already said through the reply stream (docs/streaming.md).

When the edge sends a turn with a stream target, each model step may speak before the turn
is over: the words a step writes before its tool calls, and the final answer as it is being
written. The workflow stays the authority on the reply, so it records every sentence the
caller hears (or may already have heard) at the start of the turn's reply, in order, before
its own words (a read-back, a refusal's apology, the note that the call goes on with the
guided agent). The edge speaks only what its recording adds after what it streamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.agent import (
        AgentActivities,
        AgentReply,
        AgentRequest,
        StreamedSoFarRequest,
    )
    from core.reply_stream import StreamTarget
    from core.vocabulary import ToolName

from workflows.activity_options import ACTIVITY_FAILED, ActivityOptions

# One quick question to the edge (its requests time out in 0.3 s); no retries: without an
# answer the reply is recorded from what the workflow knows.
_ASK_THE_EDGE = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_attempts=1),
)


@dataclass
class TurnSpeech:
    """One turn's streamed speech: the target, the model steps so far, what was spoken."""

    target: StreamTarget | None
    step: int = 0  # the next model step of the turn
    spoken: list[str] = field(default_factory=list)  # sentences the caller heard, in order

    def request(
        self, call_id: str, messages: list[dict[str, Any]], tools: list[ToolName]
    ) -> AgentRequest:
        """The agent's request for the next step (without a target: exactly as before)."""
        if self.target is None:
            return AgentRequest(call_id=call_id, messages=messages, tools=tools)
        return AgentRequest(
            call_id=call_id,
            messages=messages,
            tools=tools,
            stream=self.target,
            step=self.step,
            spoken_before=list(self.spoken),
        )

    def answered(self, answer: AgentReply) -> list[str] | None:
        """A step's answer: the words of a tool step join what was heard; a final step's
        sentences are returned (None when the step was not streamed)."""
        self.step += 1
        if answer.spoken is None:
            return None
        if answer.tool_calls:
            self.spoken += answer.spoken
        return answer.spoken

    async def failed(self) -> None:
        """A streamed step failed: ask the edge what the caller may have heard of it (opening
        the turn as the next step also stops the failed one for good)."""
        fence = self.step + 1
        self.step = fence + 1
        if self.target is None:
            return
        try:
            so_far = await workflow.execute_local_activity_method(
                AgentActivities.streamed_so_far,
                StreamedSoFarRequest(stream=self.target, step=fence),
                summary="what the caller heard of the failed step",
                **_ASK_THE_EDGE,
            )
        except ACTIVITY_FAILED:
            return
        if so_far.known and so_far.sentences[: len(self.spoken)] == self.spoken:
            self.spoken = list(so_far.sentences)
