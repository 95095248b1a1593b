"""The bot speaking a reply while the agent is still writing it (docs/streaming.md).

Before a turn goes to the workflow the session opens a `StreamedReply`: it listens on the
edge's reply-stream endpoint for the turn and passes its `target` with the turn. Each
sentence the agent streams is spoken (synthesised and queued) as soon as it arrives. When
the workflow's reply comes, `rest(reply)` is what the recorded reply adds after the streamed
sentences; the session speaks it once `drain()` has spoken everything that arrived.

A barge-in while the reply is not in yet `cut`s it: nothing more of it is spoken, and the
session reports how much the caller heard (counted from the first streamed sentence) with
the reply when it arrives, so the workflow knows, as for any reply, what was played.

A hint (the sentence the agent will probably send next, one model token before it is sure)
starts its synthesis early: when the sentence then arrives as hinted, its audio is already
coming; when it arrives otherwise, the early synthesis is dropped unheard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

from audiosocket.reply_stream import TurnSubscription
from core.reply_stream import StreamTarget
from workflows.models import Reply

log = structlog.get_logger("audiosocket.streamed_reply")


Audio = AsyncIterator[bytes]


class Prefetch:
    """A hinted sentence's audio, synthesised before the sentence is certain."""

    def __init__(self, text: str, audio: Audio) -> None:
        self.text = text
        self._chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pull(audio), name="prefetch")

    async def _pull(self, audio: Audio) -> None:
        try:
            async for chunk in audio:
                self._chunks.put_nowait(chunk)
        except Exception as exc:  # the speaker sees it as it would have seen it unfetched
            self._chunks.put_nowait(exc)
        self._chunks.put_nowait(None)

    async def audio(self) -> Audio:
        """The audio: what has come already, then the rest as it comes."""
        try:
            while (item := await self._chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._task.cancel()  # a speaker that stopped early (a barge-in) stops synthesis

    def cancel(self) -> None:
        self._task.cancel()


class StreamedReply:
    """One turn's streamed sentences, spoken in order as they arrive."""

    def __init__(
        self,
        subscription: TurnSubscription,
        speak: Callable[[str, Audio | None], Awaitable[None]],
        starting: Callable[[], None],
        synthesize: Callable[[str], Audio] | None = None,
    ) -> None:
        """`speak` queues one sentence's audio (synthesising it unless audio is given);
        `starting` is called once, before the first sentence is spoken; `synthesize` (the
        same synthesis `speak` would do) starts a hinted sentence early."""
        self.subscription = subscription
        self._speak = speak
        self._starting = starting
        self._synthesize = synthesize
        self.first_at: float | None = None  # when the first sentence arrived (loop clock)
        self.spoken = 0  # sentences taken to speak
        self.prefetched = 0  # sentences whose audio was synthesised from a hint
        self.cut_ms: int | None = None  # set by a barge-in before the reply came
        self._prefetches: dict[int, Prefetch] = {}
        if synthesize is not None:
            subscription.on_hint = self._hinted
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

    def _hinted(self, index: int, text: str) -> None:
        if self._synthesize is None or index < self.spoken or self._task.done():
            return
        stale = self._prefetches.pop(index, None)
        if stale is not None:
            stale.cancel()
        self._prefetches[index] = Prefetch(text, self._synthesize(text))

    async def _run(self) -> None:
        try:
            async for sentence in self.subscription:
                if self.first_at is None:
                    self.first_at = asyncio.get_running_loop().time()
                    self._starting()
                index, self.spoken = self.spoken, self.spoken + 1
                await self._speak(sentence, self._prefetched(index, sentence))
        finally:
            for prefetch in self._prefetches.values():
                prefetch.cancel()

    def _prefetched(self, index: int, sentence: str) -> Audio | None:
        """The early audio of sentence `index` if its hint was right; drops older guesses."""
        prefetch = self._prefetches.pop(index, None)
        for older in [i for i in self._prefetches if i < index]:
            self._prefetches.pop(older).cancel()
        if prefetch is None:
            return None
        if prefetch.text != sentence:
            prefetch.cancel()
            return None
        self.prefetched += 1
        return prefetch.audio()

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
