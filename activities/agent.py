"""The LLM agent turn: one Chat Completions call through the `openai` SDK, with a breaker.

Works with any OpenAI-compatible endpoint (OPENAI_BASE_URL, LLM_MODEL, OPENAI_API_KEY).
The workflow decides which tools are offered; this activity only asks and returns what the
model proposed. Failures are typed for the workflow: `LlmUnavailable` (retryable outage,
breaker open) and `LlmNotConfigured` (no endpoint set).

A turn the edge asked to stream (`AgentRequest.stream`, with REPLY_STREAM_SECRET set on the
worker) is requested with `stream=True`, and each finished sentence goes to the edge while
the model still writes (activities/agent_stream.py); without it the request is as before.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import openai
import structlog
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.agent_stream import StepStart, StreamedWords
from activities.interfaces.agent import (
    AgentActivities,
    AgentReply,
    AgentRequest,
    StreamedSoFar,
    StreamedSoFarRequest,
    ToolCall,
)
from activities.interfaces.base import implements
from activities.reply_stream import ReplyPublisher
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


def _chat_request(
    model: str, request: AgentRequest, messages: list[dict[str, Any]], *, stream: bool
) -> dict[str, Any]:
    """The Chat Completions body `chat.completions.create` would send for this turn.

    The turn posts it through the SDK's client (`AsyncOpenAI.post`: the same auth, headers,
    timeout, errors, response parsing and stream decoding) but without `create`'s pass that
    re-walks every message against the SDK's typed-dict schema to rename and reformat
    fields: chat messages need none of that, and the walk cost ~15 ms of CPU per step by
    the tenth turn (the whole conversation goes to the model every step) — the largest
    single cost of a turn (B1).
    """
    body: dict[str, Any] = {"messages": messages, "model": model, "temperature": TEMPERATURE}
    tools = openai_tools(request.tools)
    if tools:
        body["tools"] = tools
    if stream:
        body["stream"] = True
    body["user"] = request.call_id
    return body


class _NotAnOutage(Exception):
    """Wraps errors the breaker must not count (the model is up, the request was bad)."""


class OpenAiAgentActivities(AgentActivities):
    """The agent turn through the `openai` SDK, with a circuit breaker per worker."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout_s: float = 15.0,
        publisher: ReplyPublisher | None = None,
    ) -> None:
        self._model = settings.llm_model
        # Streams replies to the edges when set (REPLY_STREAM_SECRET); None: never streams.
        self._publisher = publisher
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
        if request.stream is not None and self._publisher is not None:
            return await self._streamed_turn(self._client, self._publisher, request)
        started = time.perf_counter()
        async with self._calling_the_model():
            completion = await self._client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=_chat_request(self._model, request, request.messages, stream=False),
                options=_options(request),
            )
        message = completion.choices[0].message
        proposed = [call for call in message.tool_calls or [] if call.type == "function"]
        calls = [
            bounded_call(call.id, call.function.name, call.function.arguments) for call in proposed
        ]
        text = utf8_safe(message.content[:MAX_TEXT_CHARS]) if message.content is not None else None
        return self._reply(request, started, text, calls, spoken=None)

    async def _streamed_turn(
        self, client: openai.AsyncOpenAI, publisher: ReplyPublisher, request: AgentRequest
    ) -> AgentReply:
        started = time.perf_counter()
        assert request.stream is not None
        turn = await publisher.open(
            request.stream, attempt=activity.info().attempt, step=request.step
        )
        opened = time.perf_counter()
        try:
            start = StepStart.of(turn, request.spoken_before)
            if turn.prefix_final and start.earlier:
                # An earlier attempt of this step wrote the whole reply and the edge has it
                # all: that is the reply (asking again could only word it differently).
                await turn.finish(final=False)
                return self._reply(request, started, " ".join(start.earlier), [], start.earlier)
            words = StreamedWords(turn, start, MAX_TEXT_CHARS)
            async with self._calling_the_model():
                stream = await client.post(
                    "/chat/completions",
                    cast_to=ChatCompletion,
                    body=_chat_request(self._model, request, start.messages(request), stream=True),
                    options=_options(request),
                    stream=True,
                    stream_cls=openai.AsyncStream[ChatCompletionChunk],
                )
                async with stream:  # the connection goes back to the pool however this ends
                    async for chunk in stream:
                        delta = chunk.choices[0].delta if chunk.choices else None
                        if delta is None:
                            continue
                        if delta.content:
                            words.content(delta.content)
                        for call in delta.tool_calls or []:
                            function = call.function
                            words.tool_call(
                                call.index,
                                call.id,
                                function.name if function else None,
                                function.arguments if function else None,
                            )
            words.end()
            await turn.finish(final=not words.calls)
        except Exception:
            # The sentences the model finished still go out (a retry goes on after them);
            # then this attempt says no more.
            await turn.finish(final=False)
            raise
        except BaseException:  # cancelled (timed out): stop at once
            await turn.close()
            raise
        calls = [
            bounded_call(parts.id, parts.name, parts.arguments)
            for _, parts in sorted(words.calls.items())
        ]
        return self._reply(
            request,
            started,
            words.record_text(),
            calls,
            words.spoken(),
            # Where a streamed step's time goes: the model's first word, the first sentence.
            opened_ms=_ms_since(started, opened),
            first_token_ms=_ms_since(started, words.first_token_at),
            first_sentence_ms=_ms_since(started, words.first_sentence_at),
        )

    @implements(AgentActivities.streamed_so_far)
    async def streamed_so_far(self, request: StreamedSoFarRequest) -> StreamedSoFar:
        if self._publisher is None:
            return StreamedSoFar(sentences=[], known=False)
        turn = await self._publisher.open(
            request.stream, attempt=activity.info().attempt, step=request.step
        )
        await turn.close()
        return StreamedSoFar(sentences=list(turn.prefix), known=turn.prefix_known)

    @asynccontextmanager
    async def _calling_the_model(self) -> AsyncIterator[None]:
        """The breaker around one model request, its failures typed for the workflow."""
        breaker = await self._breakers.get_breaker("llm")
        try:
            async with breaker:
                try:
                    yield
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
        except (openai.APIConnectionError, openai.APIStatusError, openai.APIError) as exc:
            raise ApplicationError(
                f"LLM unavailable: {exc}", type=ErrorType.LLM_UNAVAILABLE
            ) from None
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            # The SDK does not wrap errors while reading a stream (nor its aiohttp transport
            # all of aiohttp's).
            raise ApplicationError(
                f"LLM stream broke off: {exc!r}", type=ErrorType.LLM_UNAVAILABLE
            ) from None

    def _reply(
        self,
        request: AgentRequest,
        started: float,
        text: str | None,
        calls: list[ToolCall],
        spoken: list[str] | None,
        **stages: float | None,
    ) -> AgentReply:
        kept = calls[:MAX_TOOL_CALLS_PER_REPLY]
        ms = int((time.perf_counter() - started) * 1000)
        log.info(
            "agent turn",
            call_id=request.call_id,
            tools=[c.name for c in kept],
            dropped_calls=len(calls) - len(kept),
            streamed=None if spoken is None else len(spoken),
            ms=ms,
            **stages,
        )
        return AgentReply(text=text, tool_calls=kept, ms=ms, spoken=spoken)


def _options(request: AgentRequest) -> Any:
    return {"headers": {CALL_ID_HEADER: request.call_id}, "security": {"bearer_auth": True}}


def _ms_since(started: float, at: float | None) -> float | None:
    return None if at is None else round((at - started) * 1000, 1)


def bounded_call(call_id: str, name: str, arguments: str) -> ToolCall:
    """A proposed tool call as the workflow takes it: the name and id cut to sane lengths
    (the workflow answers an unknown name with a tool error), the arguments cut so the
    workflow refuses them as too long (prompts.tools.bounded_arguments)."""
    return ToolCall(
        id=utf8_safe(call_id[:MAX_TOOL_CALL_ID_CHARS]),
        name=utf8_safe(name[:MAX_TOOL_NAME_CHARS]),
        arguments=utf8_safe(bounded_arguments(arguments)),
    )
