"""The bot speaking a reply while the agent is still writing it (docs/streaming.md).

Before a turn goes to the workflow the session opens a `StreamedReply`: it listens on the
edge's reply-stream endpoint for the turn and passes its `target` with the turn. Each
sentence the agent streams is spoken (synthesised and queued) as soon as it arrives. When
the workflow's reply comes, `rest(reply)` is what the recorded reply adds after the streamed
sentences; the session speaks it once `drain()` has spoken everything that arrived.

A barge-in while the reply is not in yet `cut`s it: nothing more of it is spoken, and the
session reports how much the caller heard (counted from the first streamed sentence) with
the reply when it arrives, so the workflow knows, as for any reply, what was played.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from audiosocket.reply_stream import TurnSubscription
from core.reply_stream import StreamTarget
from workflows.models import Reply

log = structlog.get_logger("audiosocket.streamed_reply")


class StreamedReply:
    """One turn's streamed sentences, spoken in order as they arrive."""

    def __init__(
        self,
        subscription: TurnSubscription,
        speak: Callable[[str], Awaitable[None]],
        starting: Callable[[], None],
    ) -> None:
        """`speak` synthesises and queues one sentence; `starting` is called once, before
        the first sentence is spoken."""
        self.subscription = subscription
        self._speak = speak
        self._starting = starting
        self.first_at: float | None = None  # when the first sentence arrived (loop clock)
        self.spoken = 0  # sentences taken to speak
        self.cut_ms: int | None = None  # set by a barge-in before the reply came
        self._task = asyncio.create_task(self._run(), name=f"{subscription.target.call_id}-stream")

    @property
    def target(self) -> StreamTarget:
        return self.subscription.target

    @property
    def started(self) -> bool:
        """Whether any of the reply was spoken (and its audio counts from then on)."""
        return self.first_at is not None

    @property
    def speaking(self) -> bool:
        return self.started and not self._task.done()

    async def _run(self) -> None:
        async for sentence in self.subscription:
            if self.first_at is None:
                self.first_at = asyncio.get_running_loop().time()
                self._starting()
            self.spoken += 1
            await self._speak(sentence)

    def rest(self, reply: Reply) -> list[str]:
        """The reply is in: stop listening (what arrived is still spoken) and return what
        the recorded reply adds after the streamed sentences."""
        self.subscription.close()
        return self.subscription.unspoken(reply.sentences).sentences

    async def drain(self) -> None:
        """Wait until every streamed sentence was spoken (queued); returns at once when the
        reply was cut."""
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller itself is being cancelled, not the stream

    def cut(self, played_ms: int) -> None:
        """A barge-in: speak nothing more of this reply; `played_ms` of it were heard."""
        if self.cut_ms is None:
            self.cut_ms = played_ms
        self.close()

    def close(self) -> None:
        """Stop listening and speaking (the turn failed, or the call is over)."""
        self.subscription.close()
        self._task.cancel()
