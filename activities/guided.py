"""The guided agent turn: the directed dialog of `guided` behind the agent
interface. It gets what `agent_turn` gets (the call's messages since the caller's last line,
the tools offered, the stage) plus its memory, and answers like the LLM does — a line to say
or a tool call to propose — with the updated memory.

An activity, not workflow code: the parsers load dictionaries and models (pymorphy3,
dateparser, natasha) whose versions may change; the recorded result keeps replays exact.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, ConfigDict
from temporalio import activity

from activities.agent import AgentReply, ToolCall
from guided.memory import GuidedMemory

if TYPE_CHECKING:
    from guided.policy import Turn

log = structlog.get_logger("guided")


class GuidedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str
    messages: list[dict[str, Any]]  # from the caller's last line on
    previous_reply: str = ""  # what the caller heard last ("повторите" says it again)
    tools: list[str]
    stage: str
    today: dt.date
    withheld: bool
    phone_known: bool
    memory: GuidedMemory


class GuidedReply(AgentReply):
    memory: GuidedMemory


def turn_of(request: GuidedRequest) -> Turn:
    """The caller's last line and the tool results that followed it."""
    from guided.policy import ToolResult, Turn

    start = max((i for i, m in enumerate(request.messages) if m.get("role") == "user"), default=-1)
    caller_text = str(request.messages[start].get("content") or "") if start >= 0 else ""
    names: dict[str, str] = {}
    results: list[ToolResult] = []
    for message in request.messages[start + 1 :]:
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                names[str(call["id"])] = str(call["function"]["name"])
        elif message.get("role") == "tool":
            name = names.get(str(message.get("tool_call_id")), "")
            try:
                payload = json.loads(str(message.get("content") or "{}"))
            except ValueError:
                payload = {"error": "unreadable tool result"}
            results.append(ToolResult(name, payload if isinstance(payload, dict) else {}))
    return Turn(
        caller_text=caller_text,
        stage=request.stage,
        tools=frozenset(request.tools),
        today=request.today,
        withheld=request.withheld,
        phone_known=request.phone_known,
        results=tuple(results),
        previous_reply=request.previous_reply,
    )


def guided_step(request: GuidedRequest) -> GuidedReply:
    # Imported here: the parsers are the worker's business; the workflow module and the CLIs
    # that import it (ops, chat) need only the request and reply models.
    from guided.policy import Say, decide

    started = time.perf_counter()
    action, memory = decide(turn_of(request), request.memory)
    ms = int((time.perf_counter() - started) * 1000)
    if isinstance(action, Say):
        return GuidedReply(text=action.text, tool_calls=[], ms=ms, memory=memory)
    call = ToolCall(
        id=f"guided-{memory.calls_made}",
        name=action.name,
        arguments=json.dumps(action.arguments, ensure_ascii=False),
    )
    return GuidedReply(text=None, tool_calls=[call], ms=ms, memory=memory)


@activity.defn(name="guided_turn")
async def guided_turn(request: GuidedRequest) -> GuidedReply:
    reply = guided_step(request)
    log.info(
        "guided turn",
        call_id=request.call_id,
        question=reply.memory.question.value,
        tools=[c.name for c in reply.tool_calls],
        ms=reply.ms,
    )
    return reply
