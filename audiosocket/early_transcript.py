"""Transcribing a caller's utterance at a pause, before it is certain the turn has ended.

The end-of-turn wait is dead air the caller hears, and STT only starts after it. With
END_OF_TURN_EARLY_STT_MS set, the endpointer hands over the utterance so far once the
caller has been silent that long (SpeechPaused), and it is transcribed while the wait still
runs. If the caller stays silent to the end of the turn (`SpeechEnded.pause_held`), that
transcript is the turn's, and its latency is hidden in the wait. If they go on, it is
thrown away: the turn is transcribed whole once it ends, and the caller is never answered
on half of what they said.

A request that was sent is not cancelled when the caller goes on: the STT service has the
audio (and bills it) anyway, and letting it finish keeps what the service saw in step with
what the edge asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from audiosocket.speech import SpeechEnded, SpeechPaused

log = structlog.get_logger("audiosocket.early_transcript")

Transcribe = Callable[[bytes, int], Awaitable[str]]


class EarlyTranscripts:
    """The early transcript of one call's utterance in progress (module docstring)."""

    def __init__(self, transcribe: Transcribe, *, call_id: str) -> None:
        self._transcribe = transcribe
        self._pending: asyncio.Task[str | None] | None = None
        self._orphans: set[asyncio.Task[str | None]] = set()
        self._log = log.bind(call_id=call_id)
        self.started = 0
        self.used = 0
        self.discarded = 0

    def paused(self, event: SpeechPaused) -> None:
        """The caller paused: transcribe what they said so far."""
        self._drop()
        self.started += 1
        self._pending = asyncio.create_task(self._run(event.pcm, event.rate))

    def ended(self, event: SpeechEnded) -> asyncio.Task[str | None] | None:
        """The utterance ended: its early transcript (None: there is none that holds)."""
        if self._pending is None:
            return None
        if not event.pause_held:
            self._drop()
            return None
        task, self._pending = self._pending, None
        self.used += 1
        return task

    def close(self) -> None:
        """The call is over: nothing early is wanted any more."""
        for task in (self._pending, *self._orphans):
            if task is not None:
                task.cancel()
        self._pending = None

    def _drop(self) -> None:
        task, self._pending = self._pending, None
        if task is None:
            return
        self.discarded += 1
        if not task.done():  # finishes unheeded (module docstring)
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)
        self._log.info("early_transcript_discarded")

    async def _run(self, pcm: bytes, rate: int) -> str | None:
        """The transcript, or None on any failure: the turn is transcribed again once it
        ends, and that one reports a failure."""
        try:
            return (await self._transcribe(pcm, rate)).strip()
        except Exception as exc:
            self._log.warning("early_transcript_failed", error=repr(exc))
            return None
