"""The LLM agent turn: one Chat Completions call through the `openai` SDK, with a breaker.

Works with any OpenAI-compatible endpoint (OPENAI_BASE_URL, LLM_MODEL, OPENAI_API_KEY).
The workflow decides which tools are offered; this activity only asks and returns what the
model proposed. Failures are typed for the workflow: `LlmUnavailable` (retryable outage,
breaker open) and `LlmNotConfigured` (no endpoint set).
"""

from __future__ import annotations

import time
from typing import Any

import openai
import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from prompts.tools import openai_tools

log = structlog.get_logger("agent")

CALL_ID_HEADER = "X-Call-Id"


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arguments: str


class AgentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str
    messages: list[dict[str, Any]]
    tools: list[str]


class AgentReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None
    tool_calls: list[ToolCall]
    ms: int


class _NotAnOutage(Exception):
    """Wraps errors the breaker must not count (the model is up, the request was bad)."""


class AgentActivities:
    def __init__(self, settings: Settings, *, timeout_s: float = 15.0) -> None:
        self._model = settings.llm_model
        self._client: openai.AsyncOpenAI | None = None
        if settings.openai_base_url:
            self._client = openai.AsyncOpenAI(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "not-needed",
                timeout=timeout_s,
                max_retries=0,  # Temporal retries the activity; the breaker fails fast
            )
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=3, default_ttl=30, exclude=[_NotAnOutage]
        )

    @activity.defn(name="agent_turn")
    async def agent_turn(self, request: AgentRequest) -> AgentReply:
        if self._client is None:
            raise ApplicationError(
                "No LLM is configured (set OPENAI_BASE_URL)",
                type="LlmNotConfigured",
                non_retryable=True,
            )
        started = time.perf_counter()
        breaker = await self._breakers.get_breaker("llm")
        try:
            async with breaker:
                try:
                    completion = await self._client.chat.completions.create(
                        model=self._model,
                        messages=request.messages,  # type: ignore[arg-type]
                        tools=openai_tools(set(request.tools)) or openai.NOT_GIVEN,  # type: ignore[arg-type]
                        temperature=0.2,
                        extra_headers={CALL_ID_HEADER: request.call_id},
                        user=request.call_id,
                    )
                except openai.BadRequestError as exc:
                    raise _NotAnOutage(str(exc)) from exc
        except OpenedState:
            raise ApplicationError(
                "LLM circuit breaker is open; failing fast", type="LlmUnavailable"
            ) from None
        except _NotAnOutage as exc:
            raise ApplicationError(
                f"LLM rejected the request: {exc}", type="LlmBadRequest", non_retryable=True
            ) from None
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise ApplicationError(f"LLM unavailable: {exc}", type="LlmUnavailable") from None
        message = completion.choices[0].message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in message.tool_calls or []
            if call.type == "function"
        ]
        ms = int((time.perf_counter() - started) * 1000)
        log.info("agent turn", call_id=request.call_id, tools=[c.name for c in calls], ms=ms)
        return AgentReply(text=message.content, tool_calls=calls, ms=ms)
