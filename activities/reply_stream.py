"""The worker's end of streamed replies: an activity publishes sentences to the edge.

    async with ReplyPublisher(secret) as publisher:           # one per worker
        turn = await publisher.open(target, attempt=info.attempt, step=step)
        # turn.prefix: sentences the edge already holds for this turn (an earlier attempt or
        # step streamed them); the reply of this attempt must start with them.
        turn.publish("Первое предложение.")                   # never waits
        await turn.finish()                                   # bounded; never raises

Streaming only makes the caller hear a reply sooner; the update result is still the record.
So every failure of the channel (edge gone, timeout, refusal) ends streaming for the turn:
it is logged and counted, the rest of the reply reaches the edge with the update result,
and nothing is raised into the turn. Sentences of one turn are sent one at a time, in order,
by one background task; the edge's rules (core/reply_stream.py) refuse anything out of
order, repeated with other words, or from an attempt that a newer one has fenced off.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import aiohttp
import structlog
from pydantic import ValidationError

from core.reply_stream import (
    HINT_PATH,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCES_PER_TURN,
    OPEN_PATH,
    SENTENCE_PATH,
    HintMessage,
    OpenResult,
    PublishResult,
    SentenceMessage,
    StreamOpen,
    StreamTarget,
    Verdict,
    turn_token,
)

log = structlog.get_logger("reply_stream")

_R = TypeVar("_R", OpenResult, PublishResult)

# On the worker ↔ edge network a publish takes about a millisecond (docs/streaming.md); a
# request this slow means the edge is unreachable or overloaded, and the turn goes on without.
REQUEST_TIMEOUT_S = 0.3
# finish() waits at most this long for queued sentences before the reply is returned anyway.
DRAIN_TIMEOUT_S = 1.0
# After an edge could not be reached, turns for it skip streaming this long instead of each
# paying a timeout (a firewalled edge swallows packets: every open would wait it out).
UNREACHABLE_BACKOFF_S = 10.0
SENDER_IDLE_S = 60.0


@dataclass
class PublisherCounters:
    opened: int = 0
    published: int = 0
    duplicates: int = 0
    refused: int = 0  # the edge said no (stale attempt, gap, conflict, turn over)
    failures: int = 0  # the edge could not be reached in time, or answered nonsense
    dropped: int = 0  # sentences not sent because streaming had stopped for their turn
    skipped: int = 0  # turns not streamed because their edge was unreachable moments ago


class ReplyPublisher:
    """Owns the HTTP connections of one worker to its edges; opens turns."""

    def __init__(
        self,
        secret: str,
        *,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        unreachable_backoff_s: float = UNREACHABLE_BACKOFF_S,
    ) -> None:
        if not secret:
            raise ValueError("the reply stream needs a shared secret")
        self._secret = secret
        self._request_timeout_s = request_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._backoff_s = unreachable_backoff_s
        self._unreachable_until: dict[str, float] = {}  # edge URL → monotonic time
        self._session: aiohttp.ClientSession | None = None
        self.counters = PublisherCounters()

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._request_timeout_s),
            # Keep-alive connections: a new TCP handshake per sentence would double its cost.
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open(
        self, target: StreamTarget | None, *, attempt: int, step: int = 0
    ) -> TurnPublisher:
        """Start publishing a turn as (step, attempt) and a nonce of its own, fencing off every
        publisher not ranked above it, and learn what the edge already holds. Waits at most one
        request timeout; never raises."""
        turn = TurnPublisher(self, target, step=step, attempt=attempt)
        if target is None:
            return turn
        if time.monotonic() < self._unreachable_until.get(target.url, 0.0):
            self.counters.skipped += 1
            return turn
        await turn._open()
        return turn

    def _unreachable(self, url: str) -> None:
        self._unreachable_until[url] = time.monotonic() + self._backoff_s

    async def _post(self, target: StreamTarget, path: str, body: str) -> tuple[int, str]:
        if self._session is None:
            raise RuntimeError("ReplyPublisher is not entered (use `async with`)")
        headers = {
            "Authorization": f"Bearer {turn_token(self._secret, target.call_id, target.turn_key)}",
            "Content-Type": "application/json",
        }
        async with self._session.post(target.url + path, data=body, headers=headers) as response:
            return response.status, await response.text()


class TurnPublisher:
    """One attempt's stream of one turn. Create with `ReplyPublisher.open`."""

    def __init__(
        self, owner: ReplyPublisher, target: StreamTarget | None, *, step: int, attempt: int
    ) -> None:
        self._owner = owner
        self.target = target
        self.step = step
        self.attempt = attempt
        self.nonce = secrets.token_hex(8)
        # Without a target the edge did not ask for streaming: nothing of this turn was heard.
        self.prefix: tuple[str, ...] = ()
        self.prefix_final = False
        self.prefix_known = target is None
        self.published: list[str] = []  # sentences of this attempt the edge acknowledged
        # Sentences of this attempt the edge may hold: the acknowledged ones and, when
        # streaming stopped on a failed request, the one whose answer never came.
        self.offered: list[str] = []
        self._live = False
        self._next_index = 0
        self._queue: asyncio.Queue[SentenceMessage | HintMessage] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def live(self) -> bool:
        """Whether sentences published now can still reach the edge."""
        return self._live

    def publish(self, text: str) -> None:
        """Queue one finished sentence; returns at once. Ignored once streaming stopped."""
        if not text.strip():
            return
        if not self._live or self._finished:
            self._owner.counters.dropped += 1
            return
        if len(text) > MAX_SENTENCE_CHARS or self._next_index >= MAX_SENTENCES_PER_TURN:
            # Cutting it would stream words the record does not hold; send the rest with
            # the reply instead.
            self._stop("over_limits", chars=len(text), index=self._next_index)
            self._owner.counters.dropped += 1
            return
        assert self.target is not None
        message = SentenceMessage(
            **self._publisher_fields(),
            index=self._next_index,
            text=text,
        )
        self._next_index += 1
        self._enqueue(message)

    def _publisher_fields(self) -> dict[str, Any]:
        """The fields that name this publisher in every message it sends."""
        assert self.target is not None
        return {
            "call_id": self.target.call_id,
            "turn_key": self.target.turn_key,
            "step": self.step,
            "attempt": self.attempt,
            "publisher": self.nonce,
        }

    def hint(self, text: str) -> None:
        """Tell the edge the sentence that will probably come next (it may start synthesising
        it; it speaks only the sentence itself). Best effort: returns at once, never stops
        streaming."""
        if not self._live or self._finished or not text.strip():
            return
        if len(text) > MAX_SENTENCE_CHARS or self._next_index >= MAX_SENTENCES_PER_TURN:
            return
        assert self.target is not None
        self._enqueue(
            HintMessage(
                **self._publisher_fields(),
                index=self._next_index,
                text=text,
            )
        )

    def _enqueue(self, message: SentenceMessage | HintMessage) -> None:
        # One queue, one sender: a hint never overtakes the sentence before it.
        self._queue.put_nowait(message)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all(), name="reply-stream-sender")

    async def flush(self) -> None:
        """Wait until every queued sentence was sent (or streaming stopped); bounded."""
        if self._sender is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), self._owner._drain_timeout_s)
        except TimeoutError:
            self._stop("drain_timeout", queued=self._queue.qsize())
            self._owner.counters.failures += 1

    async def finish(self, *, final: bool = True) -> None:
        """Send what is queued, then (with `final`) tell the edge the turn's reply is complete.

        `final=False` ends this publisher but leaves the turn open for a later model step.
        Bounded by the drain and request timeouts; never raises (cancellation aside)."""
        if self._finished:
            return
        await self.flush()
        self._finished = True
        if self._live and final and self.target is not None:
            marker = SentenceMessage(
                **self._publisher_fields(),
                index=self._next_index,
                text="",
                final=True,
            )
            await self._send(marker)
        self._live = False
        await self._stop_sender()

    async def close(self) -> None:
        """Stop at once without the final marker (the turn failed or was cancelled)."""
        self._finished = True
        self._stop("closed")
        await self._stop_sender()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_rest: object) -> None:
        if exc_type is None:
            await self.finish(final=False)
        else:
            await self.close()

    async def _open(self) -> None:
        assert self.target is not None
        request = StreamOpen(
            **self._publisher_fields(),
        )
        answer = await self._request(OPEN_PATH, request.model_dump_json(), OpenResult)
        if answer is None:
            return
        status, result = answer
        if status == 404:
            # The edge holds no such turn: it never subscribed, or the turn's reply already
            # arrived. Either way nothing more of it will be heard.
            self.prefix_known = True
            log.info("reply_stream_no_listener", **self._context())
            return
        if result is None or result.verdict is not Verdict.ACCEPTED:
            self._owner.counters.refused += 1
            # 401 means the worker's and the edge's secrets differ: a setup error to see.
            level = log.error if status == 401 else log.warning
            level("reply_stream_open_refused", status=status, **self._context())
            return
        self._owner.counters.opened += 1
        self.prefix = tuple(result.sentences)
        self.prefix_final = result.final
        self.prefix_known = True
        self._next_index = len(result.sentences)
        self._live = not result.final

    async def _send_all(self) -> None:
        while True:
            try:
                # A turn left neither finished nor closed (a cancelled activity) must not
                # keep its task forever; a later publish() starts a new one.
                message = await asyncio.wait_for(self._queue.get(), SENDER_IDLE_S)
            except TimeoutError:
                return
            try:
                if isinstance(message, HintMessage):
                    if self._live:
                        await self._send_hint(message)
                elif self._live:
                    if message.text:
                        self.offered.append(message.text)
                    await self._send(message)
                else:
                    self._owner.counters.dropped += 1
            finally:
                self._queue.task_done()

    async def _send(self, message: SentenceMessage) -> None:
        answer = await self._request(SENTENCE_PATH, message.model_dump_json(), PublishResult)
        if answer is None:
            return
        status, result = answer
        if result is not None and result.verdict is Verdict.ACCEPTED:
            if message.text:
                self.published.append(message.text)
                self._owner.counters.published += 1
            return
        if result is not None and result.verdict is Verdict.DUPLICATE:
            self.published.append(message.text)
            self._owner.counters.duplicates += 1
            return
        self._owner.counters.refused += 1
        verdict = result.verdict.value if result is not None else None
        self._stop("refused", status=status, verdict=verdict, index=message.index)

    async def _send_hint(self, message: HintMessage) -> None:
        # Whatever the edge answers (an edge older than hints answers 404), streaming goes on.
        await self._request(HINT_PATH, message.model_dump_json(), PublishResult)

    async def _request(self, path: str, body: str, model: type[_R]) -> tuple[int, _R | None] | None:
        """(status, parsed body or None); None when the edge could not be reached in time."""
        assert self.target is not None
        try:
            status, text = await self._owner._post(self.target, path, body)
        except Exception as exc:  # any channel failure, never the turn's: see the docstring
            self._owner.counters.failures += 1
            self._owner._unreachable(self.target.url)
            self._stop("unreachable", path=path, error=repr(exc))
            return None
        try:
            return status, model.model_validate_json(text)
        except ValidationError:
            return status, None

    def _stop(self, reason: str, **details: object) -> None:
        if self._live:
            log.warning("reply_stream_stopped", reason=reason, **details, **self._context())
        self._live = False
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            self._owner.counters.dropped += 1

    async def _stop_sender(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    def _context(self) -> dict[str, object]:
        target = self.target
        return {
            "call_id": target.call_id if target else None,
            "turn_key": target.turn_key if target else None,
            "step": self.step,
            "attempt": self.attempt,
        }
