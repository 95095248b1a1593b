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
from openai.types.chat import ChatCompletion
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from temporalio.exceptions import ApplicationError

from activities.interfaces.agent import AgentActivities, AgentReply, AgentRequest, ToolCall
from activities.interfaces.base import implements
from core.caller_text import utf8_safe
from core.settings import Settings
from core.vocabulary import ErrorType
from prompts.tools import (
    MAX_TOOL_CALL_ID_CHARS,
    MAX_TOOL_CALLS_PER_REPLY,
    MAX_TOOL_NAME_CHARS,
    bounded_arguments,
    openai_tools,
)

log = structlog.get_logger("agent")

CALL_ID_HEADER = "X-Call-Id"
# A spoken reply is a few sentences; a model that writes a book is cut (the rest would go
# into the call's history and every later request).
MAX_TEXT_CHARS = 4000

TEMPERATURE = 0.2


def _chat_request(model: str, request: AgentRequest) -> dict[str, Any]:
    """The Chat Completions body `chat.completions.create` would send for this turn.

    The turn posts it through the SDK's client (`AsyncOpenAI.post`: the same auth, headers,
    timeout, errors and response parsing) but without `create`'s pass that re-walks every
    message against the SDK's typed-dict schema to rename and reformat fields: chat messages
    need none of that, and the walk cost ~15 ms of CPU per step by the tenth turn (the whole
    conversation goes to the model every step) — the largest single cost of a turn (B1).
    """
    body: dict[str, Any] = {
        "messages": request.messages,
        "model": model,
        "temperature": TEMPERATURE,
    }
    tools = openai_tools(request.tools)
    if tools:
        body["tools"] = tools
    body["user"] = request.call_id
    return body


class _NotAnOutage(Exception):
    """Wraps errors the breaker must not count (the model is up, the request was bad)."""


class OpenAiAgentActivities(AgentActivities):
    """The agent turn through the `openai` SDK, with a circuit breaker per worker."""

    def __init__(self, settings: Settings, *, timeout_s: float = 15.0) -> None:
        self._model = settings.llm_model
        self._client: openai.AsyncOpenAI | None = None
        if settings.openai_base_url:
            self._client = openai.AsyncOpenAI(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key or "not-needed",
                timeout=timeout_s,
                max_retries=0,  # Temporal retries the activity; the breaker fails fast
                # aiohttp, the SDK's choice for many concurrent requests: httpx's pool
                # checks every pooled connection (a syscall each) on every request, which
                # grew with the calls in flight (B2: ~7 % of the worker's CPU at 100 calls).
                http_client=openai.DefaultAioHttpClient(),
            )
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=3, default_ttl=30, exclude=[_NotAnOutage]
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    @implements(AgentActivities.agent_turn)
    async def agent_turn(self, request: AgentRequest) -> AgentReply:
        if self._client is None:
            raise ApplicationError(
                "No LLM is configured (set OPENAI_BASE_URL)",
                type=ErrorType.LLM_NOT_CONFIGURED,
                non_retryable=True,
            )
        started = time.perf_counter()
        breaker = await self._breakers.get_breaker("llm")
        try:
            async with breaker:
                try:
                    completion = await self._client.post(
                        "/chat/completions",
                        cast_to=ChatCompletion,
                        body=_chat_request(self._model, request),
                        options={
                            "headers": {CALL_ID_HEADER: request.call_id},
                            "security": {"bearer_auth": True},
                        },
                    )
                except openai.BadRequestError as exc:
                    raise _NotAnOutage(str(exc)) from exc
        except OpenedState:
            raise ApplicationError(
                "LLM circuit breaker is open; failing fast", type=ErrorType.LLM_UNAVAILABLE
            ) from None
        except _NotAnOutage as exc:
            raise ApplicationError(
                f"LLM rejected the request: {exc}",
                type=ErrorType.LLM_BAD_REQUEST,
                non_retryable=True,
            ) from None
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise ApplicationError(
                f"LLM unavailable: {exc}", type=ErrorType.LLM_UNAVAILABLE
            ) from None
        message = completion.choices[0].message
        proposed = [call for call in message.tool_calls or [] if call.type == "function"]
        calls = [
            bounded_call(call.id, call.function.name, call.function.arguments) for call in proposed
        ]
        kept = calls[:MAX_TOOL_CALLS_PER_REPLY]
        ms = int((time.perf_counter() - started) * 1000)
        log.info(
            "agent turn",
            call_id=request.call_id,
            tools=[c.name for c in kept],
            dropped_calls=len(calls) - len(kept),
            ms=ms,
        )
        text = utf8_safe(message.content[:MAX_TEXT_CHARS]) if message.content is not None else None
        return AgentReply(text=text, tool_calls=kept, ms=ms)


def bounded_call(call_id: str, name: str, arguments: str) -> ToolCall:
    """A proposed tool call as the workflow takes it: the name and id cut to sane lengths
    (the workflow answers an unknown name with a tool error), the arguments cut so the
    workflow refuses them as too long (prompts.tools.bounded_arguments)."""
    return ToolCall(
        id=utf8_safe(call_id[:MAX_TOOL_CALL_ID_CHARS]),
        name=utf8_safe(name[:MAX_TOOL_NAME_CHARS]),
        arguments=utf8_safe(bounded_arguments(arguments)),
    )
