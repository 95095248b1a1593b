"""The edge's end of streamed replies: an HTTP endpoint the agent activity publishes to.

Before sending a caller turn the edge subscribes (`server.subscribe(call_id)`) and passes
`subscription.target` with the turn; the worker POSTs the reply's sentences to it as the
model writes them (activities/reply_stream.py), and the session iterates them to TTS. When
the update result arrives the session closes the subscription and speaks
`subscription.unspoken(reply.sentences)`: the recorded reply minus what was already
streamed. The per-turn rules (order, at most once, fencing of old attempts) are in
core/reply_stream.py; this module adds the sockets, the auth check and the waiting.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import structlog
from aiohttp import web
from pydantic import ValidationError

from core.reply_stream import (
    HINT_PATH,
    MAX_SENTENCE_CHARS,
    OPEN_PATH,
    SENTENCE_PATH,
    HintMessage,
    OpenResult,
    PublishResult,
    SentenceMessage,
    StreamOpen,
    StreamTarget,
    TurnLog,
    Unspoken,
    Verdict,
    token_matches,
    unspoken,
)

log = structlog.get_logger("reply_stream")

_M = TypeVar("_M", StreamOpen, SentenceMessage, HintMessage)

PATH_PREFIX = "/reply-stream/v1"
_MAX_BODY = 4 * MAX_SENTENCE_CHARS + 1024  # a sentence of Cyrillic UTF-8 plus the envelope
# Refusals a publisher can act on get 409 (it stops streaming this turn), unknown turns 404.
_STATUS = {
    Verdict.ACCEPTED: 200,
    Verdict.DUPLICATE: 200,
    Verdict.STALE: 409,
    Verdict.GAP: 409,
    Verdict.CONFLICT: 409,
    Verdict.CLOSED: 410,
}


@dataclass(frozen=True)
class ReplyStreamConfig:
    """Where the edge listens for streamed sentences (REPLY_STREAM_* settings)."""

    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    advertise_url: str | None = None

    def server(self) -> ReplyStreamServer:
        return ReplyStreamServer(
            self.secret, host=self.host, port=self.port, advertise_url=self.advertise_url
        )


@dataclass
class StreamCounters:
    """What /metrics may show: accepted and refused publishes, bad callers, divergences."""

    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    unknown_turn: int = 0
    unauthorized: int = 0
    diverged: int = 0


class TurnSubscription:
    """One turn's sentences as they arrive; iterate once, close when the reply is in."""

    def __init__(self, server: ReplyStreamServer, target: StreamTarget) -> None:
        self._server = server
        self.target = target
        self._log = TurnLog()
        self._changed = asyncio.Event()
        # Told of each hint (index, text): the sentence that will probably come next.
        self.on_hint: Callable[[int, str], None] | None = None

    @property
    def received(self) -> tuple[str, ...]:
        return tuple(self._log.sentences)

    @property
    def final(self) -> bool:
        return self._log.final

    @property
    def closed(self) -> bool:
        return self._log.closed

    async def __aiter__(self) -> AsyncIterator[str]:
        """The turn's sentences in order, each once; ends at the final marker or at close()."""
        position = 0
        while True:
            if position < len(self._log.sentences):
                position += 1
                yield self._log.sentences[position - 1]
                continue
            if self._log.final or self._log.closed:
                return
            self._changed.clear()
            await self._changed.wait()

    def close(self) -> None:
        """Stop listening: later publishes for this turn are refused, iteration ends once it
        has yielded what was already received (all of it is part of the recorded reply)."""
        if not self._log.closed:
            self._log.closed = True
            self._server._forget(self)
            self._changed.set()

    def unspoken(self, reply: Sequence[str]) -> Unspoken:
        """The part of the recorded reply still to speak after what this turn streamed."""
        rest = unspoken(self._log.sentences, reply)
        if rest.diverged:
            self._server.counters.diverged += 1
            log.error(
                "reply_stream_diverged",
                call_id=self.target.call_id,
                turn_key=self.target.turn_key,
                streamed=len(self._log.sentences),
                recorded=len(reply),
            )
        return rest

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    # Called by the server's handlers.
    def _open(self, request: StreamOpen) -> OpenResult:
        return self._log.open(request)

    def _suggest(self, message: HintMessage) -> Verdict:
        verdict = self._log.suggest(message)
        if verdict is Verdict.ACCEPTED and self.on_hint is not None:
            self.on_hint(message.index, message.text)
        return verdict

    def _offer(self, message: SentenceMessage) -> PublishResult:
        result = self._log.offer(message)
        if result.verdict is Verdict.ACCEPTED:
            self._changed.set()
        return result


class ReplyStreamServer:
    """`async with ReplyStreamServer(secret, port=…) as server:` serves until the block ends.

    `advertise_url` is the base URL workers use to reach this edge (it may differ from the
    bind address behind NAT or in a container); by default http://host:port.
    """

    def __init__(
        self,
        secret: str,
        *,
        host: str = "0.0.0.0",  # workers are on other machines
        port: int = 0,
        advertise_url: str | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the reply stream needs a shared secret")
        self._secret = secret
        self._host = host
        self._port = port
        self._advertise = advertise_url
        self._turns: dict[tuple[str, str], TurnSubscription] = {}
        self._runner: web.AppRunner | None = None
        self.counters = StreamCounters()
        self.base_url = ""
        self.port = 0

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post(PATH_PREFIX + OPEN_PATH, self._handle_open)
        app.router.add_post(PATH_PREFIX + SENTENCE_PATH, self._handle_sentence)
        app.router.add_post(PATH_PREFIX + HINT_PATH, self._handle_hint)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.port = int(self._runner.addresses[0][1])
        base = self._advertise or f"http://{_url_host(self._host)}:{self.port}"
        self.base_url = base.rstrip("/") + PATH_PREFIX
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for subscription in list(self._turns.values()):
            subscription.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def subscribe(self, call_id: str, turn_key: str | None = None) -> TurnSubscription:
        """Start listening for a turn; call before the turn is sent to the workflow."""
        if not self.base_url:
            raise RuntimeError("the reply stream server is not running")
        key = turn_key or secrets.token_hex(8)
        if (call_id, key) in self._turns:
            raise ValueError(f"turn {key!r} of {call_id!r} is already subscribed")
        target = StreamTarget(url=self.base_url, call_id=call_id, turn_key=key)
        subscription = TurnSubscription(self, target)
        self._turns[(call_id, key)] = subscription
        return subscription

    def _forget(self, subscription: TurnSubscription) -> None:
        target = subscription.target
        if self._turns.get((target.call_id, target.turn_key)) is subscription:
            del self._turns[(target.call_id, target.turn_key)]

    async def _handle_open(self, request: web.Request) -> web.Response:
        found = await self._addressed(request, StreamOpen)
        if isinstance(found, web.Response):
            return found
        parsed, subscription = found
        result = subscription._open(parsed)
        if result.verdict is not Verdict.ACCEPTED:
            self.counters.refused += 1
        return _json(_STATUS[result.verdict], result.model_dump(mode="json"))

    async def _handle_sentence(self, request: web.Request) -> web.Response:
        found = await self._addressed(request, SentenceMessage)
        if isinstance(found, web.Response):
            return found
        parsed, subscription = found
        result = subscription._offer(parsed)
        if result.verdict is Verdict.ACCEPTED:
            self.counters.accepted += 1 if parsed.text else 0  # the final marker is no sentence
        elif result.verdict is Verdict.DUPLICATE:
            self.counters.duplicates += 1
        else:
            self.counters.refused += 1
            log.warning(
                "reply_stream_refused",
                call_id=parsed.call_id,
                turn_key=parsed.turn_key,
                verdict=result.verdict.value,
                index=parsed.index,
                step=parsed.step,
                attempt=parsed.attempt,
            )
        return _json(_STATUS[result.verdict], result.model_dump(mode="json"))

    async def _handle_hint(self, request: web.Request) -> web.Response:
        found = await self._addressed(request, HintMessage)
        if isinstance(found, web.Response):
            return found
        parsed, subscription = found
        verdict = subscription._suggest(parsed)
        result = PublishResult(verdict=verdict, held=len(subscription.received))
        return _json(_STATUS[verdict], result.model_dump(mode="json"))

    async def _addressed(
        self, request: web.Request, model: type[_M]
    ) -> tuple[_M, TurnSubscription] | web.Response:
        """The request's message and the turn it is for; or the answer that refuses it."""
        parsed = await self._parse(request, model)
        if isinstance(parsed, web.Response):
            return parsed
        subscription = self._turns.get((parsed.call_id, parsed.turn_key))
        if subscription is None:
            self.counters.unknown_turn += 1
            return _json(404, {"verdict": Verdict.CLOSED, "reason": "no such turn"})
        return parsed, subscription

    async def _parse(self, request: web.Request, model: type[_M]) -> _M | web.Response:
        try:
            parsed = model.model_validate_json(await request.read())
        except (ValidationError, ValueError) as exc:
            return _json(400, {"reason": str(exc)[:500]})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token_matches(self._secret, parsed.call_id, parsed.turn_key, token):
            self.counters.unauthorized += 1
            log.warning("reply_stream_unauthorized", peer=request.remote)
            return _json(401, {"reason": "bad or missing turn token"})
        return parsed


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
