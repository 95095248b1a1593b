"""A fake LLM: a real HTTP server speaking the OpenAI Chat Completions wire protocol.

The LLM is an external boundary, so tests replace the service, never our code: the agent
talks to this server through the real `openai` SDK (request building, retries, parsing,
streaming all run as in production).

Conversations. Each request belongs to one conversation, named by the first of:
1. the header `X-Call-Id` (`CALL_ID_HEADER`) - the agent activity sends the workflow id here;
   a header works with every OpenAI-compatible endpoint and leaves the body untouched;
2. `metadata["call_id"]` in the body (OpenAI accepts metadata only with `store: true`,
   which keeps the conversation at OpenAI - not what a call with personal data wants);
3. the `user` field in the body.
Requests with none of these belong to `ANONYMOUS` ("").

Scripts. `llm.script(call_id, [Reply...])` queues replies; each answered request takes the
next one. A request failed by an injected fault takes none, so the client's retry gets the
reply the failed attempt would have got - as with a real service that was briefly down.

Timing. `set_latency(first, per_chunk=gap)` makes a model that writes: the first token comes
`first` seconds after the request, each next one `gap` later (on an absolute schedule, so
sleeps do not add up), a token being a word of text or a piece of a tool call
(`stream_tokens`). A request without `stream` is answered when the model would have written
its last token. `Reply.cut_after` and `Reply.pause_after` make a stream break off or stall.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Self

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

CALL_ID_HEADER: Final = "X-Call-Id"
CALL_ID_METADATA_KEY: Final = "call_id"
ANONYMOUS: Final = ""
DEFAULT_REPLY_TEXT: Final = "Чем ещё могу помочь?"
DEFAULT_MODEL: Final = "fake-llm"

Json = dict[str, Any]

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ROLES: Final = ("system", "developer", "user", "assistant", "tool", "function")
_ARGUMENT_PIECE: Final = 16  # characters of tool arguments per stream chunk
_ARRIVED: Final = web.RequestKey("arrived", float)


# --- replies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One function call in a reply. `arguments` as a str is sent verbatim (e.g. broken JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


DynamicFn = Callable[[Json], "Reply"]


@dataclass(frozen=True)
class Reply:
    """What the fake answers to one request. Build with the class methods."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    fn: DynamicFn | None = None
    fail_status: int | None = None
    # A strict-mode model can only call offered tools; set this to script one that does not.
    unoffered_ok: bool = False
    # Streaming: after this many tokens the connection is cut (the client sees a body that
    # broke off), or the stream stalls for `pause_s` before going on.
    cut_after: int | None = None
    pause_after: int | None = None
    pause_s: float = 0.0
    # With pause_after: the stream also waits for this event (a test decides when it goes on).
    hold: asyncio.Event | None = field(default=None, compare=False, repr=False)

    @classmethod
    def text(cls, content: str) -> Reply:
        return cls(content=content)

    def cut(self, after: int) -> Reply:
        """This reply, its stream cut after `after` tokens."""
        return replace(self, cut_after=after)

    def pause(
        self, after: int, seconds: float = 0.0, *, until: asyncio.Event | None = None
    ) -> Reply:
        """This reply, its stream stalled after `after` tokens for `seconds` and until `until`
        is set."""
        return replace(self, pause_after=after, pause_s=seconds, hold=until)

    @classmethod
    def tool(
        cls,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        content: str | None = None,
        id: str | None = None,
        unoffered_ok: bool = False,
    ) -> Reply:
        call = ToolCall(name, {} if arguments is None else arguments, id)
        return cls(content=content, tool_calls=(call,), unoffered_ok=unoffered_ok)

    @classmethod
    def tools(
        cls,
        *calls: ToolCall | tuple[str, Mapping[str, Any] | str],
        content: str | None = None,
        unoffered_ok: bool = False,
    ) -> Reply:
        """Several tool calls in one reply (parallel tool calls)."""
        built = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls)
        return cls(content=content, tool_calls=built, unoffered_ok=unoffered_ok)

    @classmethod
    def dynamic(cls, fn: DynamicFn) -> Reply:
        """A reply computed from the request body when it is served."""
        return cls(fn=fn)

    @classmethod
    def fail(cls, status: int = 500) -> Reply:
        """An error response in place of this script step (it consumes the step)."""
        return cls(fail_status=status)

    def _with_ids(self) -> Reply:
        calls = tuple(c if c.id else replace(c, id=_new_id("call_")) for c in self.tool_calls)
        return replace(self, tool_calls=calls)


DEFAULT_REPLY: Final = Reply.text(DEFAULT_REPLY_TEXT)


# --- reading requests in dynamic replies and assertions --------------------------------------


def offered_tools(request: Mapping[str, Any]) -> list[str]:
    """Names of the tools offered in a request body."""
    return [t["function"]["name"] for t in request.get("tools") or []]


def last_user_text(request: Mapping[str, Any]) -> str:
    """Text of the latest user message (what the caller said)."""
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    raise LookupError("no user message in the request")


def last_tool_content(request: Mapping[str, Any], tool_name: str) -> str:
    """Raw content of the latest `role: tool` message answering a call of `tool_name`."""
    messages: list[Json] = list(request.get("messages") or [])
    names = {
        call["id"]: call["function"]["name"]
        for message in messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or []
    }
    for message in reversed(messages):
        if message.get("role") == "tool" and names.get(message.get("tool_call_id")) == tool_name:
            return _text_of(message.get("content"))
    raise LookupError(f"no {tool_name!r} tool result among {len(messages)} messages")


def last_tool_result(request: Mapping[str, Any], tool_name: str) -> dict[str, Any]:
    """The latest result of `tool_name`, parsed as a JSON object."""
    content = last_tool_content(request, tool_name)
    value = json.loads(content)
    if not isinstance(value, dict):
        raise ValueError(f"{tool_name!r} result is not a JSON object: {content[:200]}")
    return value


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


# --- errors in the OpenAI shape --------------------------------------------------------------


class ApiError(Exception):
    """An error response: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        return web.json_response(body, status=self.status, headers=self.headers)


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def outage(status: int, retry_after: float | None = None) -> ApiError:
    """An error as the real service sends it for `status` (429, 5xx, ...)."""
    headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
    if status == 429:
        return ApiError(
            429,
            "Rate limit reached for requests. Please try again later.",
            type_="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if status >= 500:
        message = (
            "The engine is currently overloaded, please try again later."
            if status in (502, 503)
            else "The server had an error while processing your request. Sorry about that!"
        )
        return ApiError(status, message, type_="server_error", headers=headers)
    return ApiError(status, f"Injected HTTP {status}", headers=headers)


# asyncio.sleep(d) wakes ~0.5 % of d late here (the kernel's timer slack grows with the
# timeout: +1.8 ms on a 350 ms sleep): a fake configured for 350 ms would answer at ~352.
_FINAL_SLEEP_S: Final = 0.002


async def sleep_until(deadline: float) -> None:
    """Wake at `deadline` (the running loop's clock) within about a millisecond: the fakes'
    latencies are the floor a benchmark subtracts, so they must not add their own. Most of
    the wait is one long sleep that ends a little early, the rest a short one whose slack is
    small."""
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    if (margin := max(_FINAL_SLEEP_S, remaining / 50)) < remaining:
        await asyncio.sleep(remaining - margin)
    await asyncio.sleep(max(0.0, deadline - loop.time()))


@web.middleware
async def _api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    # The configured latency counts from here: the fake's own parsing is not added to it.
    request[_ARRIVED] = asyncio.get_running_loop().time()
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPNotFound:
        return ApiError(404, f"Invalid URL ({request.method} {request.path})").response()


# --- the server base, shared with the audio fake ---------------------------------------------


@dataclass
class _Fault:
    status: int
    remaining: int
    call_id: str | None
    retry_after: float | None


@dataclass
class Exchange:
    """One request as received, and what became of it (status 0 while in flight)."""

    call_id: str
    body: Json
    headers: dict[str, str]
    status: int = 0
    reply: Reply | None = None


class FakeOpenAIServer:
    """An aiohttp server on 127.0.0.1 and a free port with auth, latency and fault injection."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.latency = 0.0
        self.chunk_delay = 0.0
        # script mistakes by call id; `assert_consumed` reports them
        self._problems_of: defaultdict[str, list[str]] = defaultdict(list)
        self._faults: list[_Fault] = []
        self._down: _Fault | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    async def start(self) -> None:
        app = web.Application(middlewares=[_api_errors], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        # Port 0: the OS picks a free port at bind time, so there is no race with others.
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._port = 0

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # -- failure injection --

    def fail_next(
        self,
        call_id: str | None = None,
        status: int = 500,
        count: int = 1,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next `count` requests (of `call_id`, or of any call when None)."""
        self._faults.append(_Fault(status, count, call_id, retry_after))

    def fail_all(self, status: int = 503, *, retry_after: float | None = None) -> None:
        """Fail every request until `recover()`."""
        self._down = _Fault(status, 0, None, retry_after)

    def recover(self) -> None:
        """End `fail_all` and drop pending `fail_next` faults."""
        self._down = None
        self._faults.clear()

    def set_latency(self, seconds: float, *, per_chunk: float = 0.0) -> None:
        """Delay before each response and, when streaming, between chunks."""
        self.latency = seconds
        self.chunk_delay = per_chunk

    # -- request plumbing --

    def _authorize(self, request: web.Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if header.removeprefix("Bearer ") != self.api_key:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    async def _gate(self, request: web.Request, call_id: str) -> None:
        """Latency (from the request's arrival), then injected faults; raises ApiError instead
        of answering."""
        if self.latency:
            loop = asyncio.get_running_loop()
            await sleep_until(request.get(_ARRIVED, loop.time()) + self.latency)
        # aiohttp keeps running a handler whose client gave up: answering it would eat a
        # script step nobody reads, and the client's retry would get the step after it.
        if request.transport is None or request.transport.is_closing():
            raise ApiError(499, "client closed the request")
        if self._down is not None:
            raise outage(self._down.status, self._down.retry_after)
        for fault in self._faults:
            if fault.call_id is None or fault.call_id == call_id:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise outage(fault.status, fault.retry_after)

    def _script_error(self, call_id: str, message: str) -> ApiError:
        self._problems_of[call_id].append(message)
        log.error("fake server script error: %s", message)
        # Not retryable: the same script would fail again and hide the first message.
        return ApiError(
            500,
            f"fake server script error: {message}",
            type_="fake_script_error",
            headers={"x-should-retry": "false"},
        )


async def json_body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
            "payload.)"
        )
    return body


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


# --- the fake LLM ----------------------------------------------------------------------------


class FakeLLM(FakeOpenAIServer):
    """`POST /v1/chat/completions` (plain and streaming) and `GET /v1/models`.

    `models=None` accepts any model name; a list makes other names a 404 like the real API.
    `default` answers requests whose script is used up (None: answer them with an error).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        default: Reply | None = DEFAULT_REPLY,
        require_offered_tools: bool = True,
    ) -> None:
        super().__init__(api_key=api_key)
        self.models = list(models) if models is not None else None
        self.default = default
        self.require_offered_tools = require_offered_tools
        self.exchanges: list[Exchange] = []
        self.warnings: list[str] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._overruns: Counter[str] = Counter()
        self._changed = asyncio.Condition()  # a request arrived or was answered

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)

    # -- scripting and inspection --

    def script(self, call_id: str, replies: Iterable[Reply]) -> None:
        """Queue replies for a conversation (appends to what is already queued)."""
        self._scripts.setdefault(call_id, deque()).extend(replies)

    @property
    def problems(self) -> list[str]:
        """Every script mistake so far, of all calls."""
        return [message for messages in self._problems_of.values() for message in messages]

    def unconsumed(self, call_id: str) -> list[Reply]:
        return list(self._scripts.get(call_id, ()))

    def overruns(self, call_id: str) -> int:
        """How many requests of `call_id` found the script used up."""
        return self._overruns[call_id]

    def assert_consumed(self, call_id: str | None = None, *, allow_default: bool = False) -> None:
        """Every scripted reply was served, no script errors, and (unless allowed) no request
        went past the end of its script - a runaway agent loop shows up here. With `call_id`,
        of that call alone (the server is shared: another test's mistakes are not this one's)."""
        calls = [call_id] if call_id is not None else sorted(self._scripts.keys() | self._overruns)
        failures = self.problems if call_id is None else list(self._problems_of[call_id])
        for call in calls:
            if left := self.unconsumed(call):
                failures.append(f"call {call!r}: {len(left)} scripted replies not served: {left}")
            if self._overruns[call] and not allow_default:
                failures.append(
                    f"call {call!r}: {self._overruns[call]} requests after the script ended"
                )
        if failures:
            raise AssertionError("fake LLM:\n" + "\n".join(failures))

    def requests(self, call_id: str | None = None) -> list[Json]:
        """Request bodies received (including failed ones), of one call or of all (None)."""
        return [e.body for e in self.exchanges if call_id is None or e.call_id == call_id]

    def call_ids(self) -> list[str]:
        return list(dict.fromkeys(e.call_id for e in self.exchanges))

    async def wait_requests(self, call_id: str, count: int) -> list[Json]:
        """Wait until `call_id` has sent `count` requests; bound it with `asyncio.timeout`."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests(call_id)) >= count)
        return self.requests(call_id)

    async def wait_settled(self) -> None:
        """Wait until every request received so far is answered (or found abandoned)."""
        async with self._changed:
            await self._changed.wait_for(lambda: all(e.status for e in self.exchanges))

    def reset(self) -> None:
        """Forget scripts, records, faults and latency (for a server shared between tests)."""
        self.recover()
        self.set_latency(0.0)
        self.exchanges.clear()
        self.warnings.clear()
        self._problems_of.clear()
        self._scripts.clear()
        self._overruns.clear()

    # -- handlers --

    async def _models(self, request: web.Request) -> web.Response:
        self._authorize(request)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
            for name in self.models or [DEFAULT_MODEL]
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self._authorize(request)
        body = await json_body(request)
        exchange = Exchange(call_id_of(request, body), body, dict(request.headers))
        self.exchanges.append(exchange)
        await self._settle(exchange, 0)
        try:
            validate_chat_request(body)
            if self.models is not None and body["model"] not in self.models:
                raise ApiError(
                    404,
                    f"The model `{body['model']}` does not exist or you do not have access to it.",
                    code="model_not_found",
                )
            await self._gate(request, exchange.call_id)
            reply = self._next_reply(exchange.call_id, body)
            exchange.reply = reply
            if reply.fail_status is not None:
                raise outage(reply.fail_status)
        except ApiError as error:
            await self._settle(exchange, error.status)
            raise
        await self._settle(exchange, 200)
        if body.get("stream"):
            return await self._stream(request, body, reply)
        if self.chunk_delay:  # answered when the model would have written all of it
            await asyncio.sleep(self.chunk_delay * max(0, len(stream_tokens(reply)) - 1))
        return web.json_response(completion(body, reply), headers=_response_headers())

    async def _settle(self, exchange: Exchange, status: int) -> None:
        exchange.status = status
        async with self._changed:
            self._changed.notify_all()

    def _next_reply(self, call_id: str, body: Json) -> Reply:
        queue = self._scripts.get(call_id)
        if queue:
            reply = queue.popleft()
        else:
            self._overruns[call_id] += 1
            warning = f"call {call_id!r}: script used up, request {len(self.requests(call_id))}"
            self.warnings.append(warning)
            log.warning("fake LLM: %s", warning)
            if self.default is None:
                raise self._script_error(call_id, warning)
            reply = self.default
        while reply.fn is not None:
            try:
                produced = reply.fn(body)
            except Exception as error:
                raise self._script_error(
                    call_id, f"call {call_id!r}: dynamic reply raised {error!r}"
                ) from error
            if not isinstance(produced, Reply):
                raise self._script_error(
                    call_id, f"call {call_id!r}: dynamic reply gave {produced!r}"
                )
            reply = produced
        if reply.fail_status is None and (mismatch := self._mismatch(reply, body)):
            raise self._script_error(call_id, f"call {call_id!r}: {mismatch}")
        return reply._with_ids()

    def _mismatch(self, reply: Reply, body: Json) -> str | None:
        """Why a real model could not have given this reply to this request, if it could not."""
        if reply.content is None and not reply.tool_calls:
            return "a reply needs content or tool calls"
        called = [c.name for c in reply.tool_calls]
        offered = offered_tools(body)
        choice = body.get("tool_choice")
        missing = [name for name in called if name not in offered]
        if missing and self.require_offered_tools and not reply.unoffered_ok:
            return f"scripted tool calls {missing} not offered (offered: {offered})"
        if choice == "none" and called:
            return f"tool_choice is 'none' but the script calls {called}"
        if choice == "required" and not called:
            return "tool_choice is 'required' but the script answers with text"
        if isinstance(choice, dict) and called != [choice["function"]["name"]]:
            return f"tool_choice names {choice['function']['name']!r}, the script calls {called}"
        if body.get("parallel_tool_calls") is False and len(called) > 1:
            return f"parallel_tool_calls is false but the script calls {called}"
        return None

    async def _stream(self, request: web.Request, body: Json, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            | _response_headers()
        )
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        loop = asyncio.get_running_loop()
        first_token_at: float | None = None
        tokens = 0
        try:
            for chunk in stream_chunks(body, reply, include_usage=include_usage):
                if _is_token(chunk):
                    if tokens == reply.cut_after:
                        assert request.transport is not None
                        request.transport.close()  # mid-body: the client sees it break off
                        return response
                    if tokens and tokens == reply.pause_after:
                        await asyncio.sleep(reply.pause_s)
                        if reply.hold is not None:
                            await reply.hold.wait()
                        first_token_at = loop.time() - tokens * self.chunk_delay
                    if first_token_at is None:
                        first_token_at = loop.time()
                    elif self.chunk_delay:
                        await sleep_until(first_token_at + tokens * self.chunk_delay)
                    tokens += 1
                await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading (e.g. barge-in); nothing left to tell it
        return response


def call_id_of(request: web.Request, body: Json) -> str:
    if header := request.headers.get(CALL_ID_HEADER):
        return header
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get(CALL_ID_METADATA_KEY), str):
        return str(metadata[CALL_ID_METADATA_KEY])
    user = body.get("user")
    return user if isinstance(user, str) and user else ANONYMOUS


def _response_headers() -> dict[str, str]:
    return {"x-request-id": _new_id("req_"), "openai-processing-ms": "1"}


# --- response building -----------------------------------------------------------------------


def completion(body: Json, reply: Reply) -> Json:
    message: Json = {
        "role": "assistant",
        "content": reply.content,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for call in reply.tool_calls
        ]
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
        ],
        "usage": usage(body, reply),
    }


def stream_chunks(body: Json, reply: Reply, *, include_usage: bool) -> Iterator[Json]:
    """The reply as `chat.completion.chunk` objects: words of text, then tool calls piecewise."""
    base: Json = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: Json, finish_reason: str | None = None) -> Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra: Json = {"usage": None} if include_usage else {}
        return base | {"choices": [choice]} | extra

    yield chunk({"role": "assistant", "content": "" if reply.content else None, "refusal": None})
    for word in re.findall(r"\s*\S+\s*", reply.content or ""):
        yield chunk({"content": word})
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        yield chunk({"tool_calls": [head | {"function": {"name": call.name, "arguments": ""}}]})
        arguments = call.arguments_json()
        for start in range(0, len(arguments), _ARGUMENT_PIECE):
            piece = arguments[start : start + _ARGUMENT_PIECE]
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _finish_reason(reply))
    if include_usage:
        yield base | {"choices": [], "usage": usage(body, reply)}


def stream_tokens(reply: Reply) -> list[str]:
    """What each token of a streamed reply carries: the words of its text, then for each tool
    call its name and its arguments in pieces (as `stream_chunks` sends them)."""
    tokens = re.findall(r"\s*\S+\s*", reply.content or "")
    for call in reply.tool_calls:
        arguments = call.arguments_json()
        tokens.append(call.name)
        tokens += [
            arguments[i : i + _ARGUMENT_PIECE] for i in range(0, len(arguments), _ARGUMENT_PIECE)
        ]
    return tokens


def _is_token(chunk: Json) -> bool:
    choices = chunk.get("choices") or []
    delta = choices[0].get("delta", {}) if choices else {}
    return bool(delta.get("content") or delta.get("tool_calls"))


def _finish_reason(reply: Reply) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def usage(body: Json, reply: Reply) -> Json:
    """Plausible token counts: about four characters per token."""
    prompt_chars = len(json.dumps(body.get("messages"), ensure_ascii=False))
    prompt_chars += len(json.dumps(body.get("tools") or [], ensure_ascii=False))
    completion_chars = len(reply.content or "") + sum(
        len(c.name) + len(c.arguments_json()) for c in reply.tool_calls
    )
    prompt = max(1, math.ceil(prompt_chars / 4))
    done = max(1, math.ceil(completion_chars / 4))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": done,
        "total_tokens": prompt + done,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


# --- request validation: what the real API rejects, so client bugs fail in tests -----------


def validate_chat_request(body: Json) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("you must provide a model parameter", "model")
    tool_names = _validate_tools(body.get("tools"))
    _validate_messages(body.get("messages"))
    _validate_tool_choice(body.get("tool_choice"), tool_names)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("Invalid type for 'stream': expected a boolean.", "stream")
    if body.get("stream_options") is not None and not stream:
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    if body.get("metadata") is not None and body.get("store") is not True:
        raise invalid(
            "The 'metadata' parameter is only allowed when 'store' is enabled.", "metadata"
        )
    if body.get("n", 1) != 1:
        raise invalid("the fake LLM answers with one choice only (n=1)", "n")


def _validate_messages(messages: Any) -> None:
    if messages is None:
        raise invalid("Missing required parameter: 'messages'.", "messages")
    if not isinstance(messages, list):
        raise invalid("Invalid type for 'messages': expected an array.", "messages")
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "messages",
        )
    pending: list[str] = []  # tool_call_ids of the latest assistant message not yet answered
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", where)
        role = message.get("role")
        if role not in _ROLES:
            raise invalid(
                f"Invalid value: '{role}'. Supported values are: {', '.join(_ROLES)}.",
                f"{where}.role",
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"{where}.role",
                )
            pending.remove(call_id)
        elif pending:
            raise _unanswered(pending, f"{where}.role")
        tool_calls = message.get("tool_calls") if role == "assistant" else None
        if tool_calls is not None:
            pending = _validate_tool_calls(tool_calls, f"{where}.tool_calls")
        _validate_content(message.get("content"), role, bool(tool_calls), where)
    if pending:
        raise _unanswered(pending, "messages")


def _unanswered(pending: list[str], param: str) -> ApiError:
    return invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param,
    )


def _validate_content(content: Any, role: str, has_tool_calls: bool, where: str) -> None:
    if content is None:
        if role == "assistant" and has_tool_calls:
            return
        raise invalid(
            f"Invalid value for '{where}.content': expected a string, got null.",
            f"{where}.content",
        )
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not all(
        isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
    ):
        raise invalid(
            f"Invalid type for '{where}.content': expected one of a string or array of "
            f"objects, but got {type(content).__name__} instead.",
            f"{where}.content",
        )


def _validate_tool_calls(tool_calls: Any, where: str) -> list[str]:
    if not isinstance(tool_calls, list) or not tool_calls:
        raise invalid(f"Invalid '{where}': expected a non-empty array.", where)
    ids: list[str] = []
    for j, call in enumerate(tool_calls):
        at = f"{where}[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            raise invalid(f"Missing required parameter: '{at}.id'.", f"{at}.id")
        if call.get("type") != "function" or not isinstance(function, dict):
            raise invalid(f"Invalid '{at}': expected a function tool call.", at)
        if not isinstance(function.get("name"), str):
            raise invalid(f"Missing required parameter: '{at}.function.name'.", at)
        if not isinstance(function.get("arguments"), str):
            raise invalid(
                f"Invalid type for '{at}.function.arguments': expected a string, but got "
                f"{type(function.get('arguments')).__name__} instead.",
                f"{at}.function.arguments",
            )
        ids.append(call["id"])
    return ids


def _validate_tools(tools: Any) -> list[str]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("Invalid type for 'tools': expected an array.", "tools")
    if not tools:
        raise invalid(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            "tools",
        )
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            raise invalid(
                f"Invalid value: '{kind}'. Supported values are: 'function' and 'custom'.",
                f"{where}.type",
            )
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid(f"Missing required parameter: '{where}.function'.", where)
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise invalid(
                f"Invalid '{where}.function.name': string does not match pattern. Expected "
                "a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.function.name",
            )
        if name in names:
            raise invalid(f"Duplicate tool name '{name}' (fake LLM check).", where)
        names.append(name)
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid(
                f"Invalid type for '{where}.function.parameters': expected an object.",
                f"{where}.function.parameters",
            )
        if function.get("strict") is True and parameters is not None:
            if parameters.get("type") != "object":
                raise invalid(
                    f"Invalid schema for function '{name}': schema must be a JSON Schema of "
                    f"'type: \"object\"', got 'type: \"{parameters.get('type')}\"'.",
                    f"{where}.function.parameters",
                )
            _check_strict_schema(parameters, name, ())
    return names


def _check_strict_schema(schema: Any, function: str, context: tuple[str, ...]) -> None:
    """The two rules of strict mode that hand-written schemas break most often."""
    if not isinstance(schema, dict):
        return
    types = schema.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    properties = schema.get("properties")
    if is_object or isinstance(properties, dict):
        prefix = f"Invalid schema for function '{function}': In context={context}, "
        if schema.get("additionalProperties") is not False:
            raise invalid(
                prefix + "'additionalProperties' is required to be supplied and to be false.",
                "tools",
            )
        required = schema.get("required")
        keys = list(properties or {})
        missing = [k for k in keys if not isinstance(required, list) or k not in required]
        if missing:
            raise invalid(
                prefix + "'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'.",
                "tools",
            )
        for key, sub in (properties or {}).items():
            _check_strict_schema(sub, function, (*context, "properties", key))
    if "items" in schema:
        _check_strict_schema(schema["items"], function, (*context, "items"))
    for i, sub in enumerate(schema.get("anyOf") or []):
        _check_strict_schema(sub, function, (*context, "anyOf", str(i)))
    for defs in ("$defs", "definitions"):
        for key, sub in (schema.get(defs) or {}).items():
            _check_strict_schema(sub, function, (*context, defs, key))


def _validate_tool_choice(choice: Any, tool_names: list[str]) -> None:
    if choice is None or choice in ("none", "auto", "required"):
        if choice in ("auto", "required") and not tool_names:
            raise invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                "tool_choice",
            )
        return
    name = None
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
    if name is None:
        raise invalid(f"Invalid value for 'tool_choice': {choice!r}.", "tool_choice")
    if name not in tool_names:
        raise invalid(
            f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.",
            "tool_choice",
        )
