"""A turn whose activity streams a scripted reply to the edge, with faults on demand.

`Speaker.speak` plays the agent activity's part: it opens the turn as its Temporal attempt,
starts its reply with the prefix the edge already holds (as the agent will, by asking the
model to continue after it), publishes the rest sentence by sentence and returns the whole
reply, which the workflow's update returns as the record. Attempt n says `scripts[n-1]`, so
a retried attempt words its reply differently, as a model does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.reply_stream import ReplyPublisher, TurnPublisher
from core.reply_stream import StreamTarget


class SpeakRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: StreamTarget | None
    scripts: list[list[str]]
    # Faults of attempt 1, after publishing (and sending) that many sentences of its own:
    fail_after: int | None = None  # it fails; Temporal retries it
    kill_after: int | None = None  # its worker process is killed (SIGKILL)
    zombie_after: int | None = None  # it hangs, times out, and later publishes anyway
    timeout_s: float = 10.0
    task_queue: str | None = None  # where the activity runs (another worker process)


@workflow.defn(name="StreamedTurn")
class StreamedTurnWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.update(name="turn")
    async def turn(self, request: SpeakRequest) -> list[str]:
        reply: list[str] = await workflow.execute_activity(
            "speak_streamed",
            request,
            result_type=list[str],
            task_queue=request.task_queue,
            start_to_close_timeout=timedelta(seconds=request.timeout_s),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=3
            ),
        )
        return reply

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self._done = True


class Speaker:
    def __init__(self, publisher: ReplyPublisher) -> None:
        self.publisher = publisher
        self.later_attempt_opened = asyncio.Event()
        self.zombie_done = asyncio.Event()
        self.zombie: TurnPublisher | None = None
        self._zombies: set[asyncio.Task[None]] = set()

    @activity.defn(name="speak_streamed")
    async def speak(self, request: SpeakRequest) -> list[str]:
        attempt = activity.info().attempt
        script = request.scripts[min(attempt, len(request.scripts)) - 1]
        turn = await self.publisher.open(request.target, attempt=attempt)
        if attempt > 1:
            self.later_attempt_opened.set()
            if request.zombie_after is not None:
                await self.zombie_done.wait()  # the old attempt has tried to speak meanwhile
        reply = list(turn.prefix)  # what the caller may already have heard comes first
        rest = script[len(reply) :]
        for said, text in enumerate(rest, start=1):
            turn.publish(text)
            reply.append(text)
            if attempt > 1 or said not in (
                request.fail_after,
                request.kill_after,
                request.zombie_after,
            ):
                continue
            await turn.flush()
            if said == request.fail_after:
                raise ApplicationError("the model's stream broke off")
            if said == request.kill_after:
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            # A worker cut off from Temporal: the attempt times out, a new one runs, and
            # this one, not told, carries on speaking later.
            self.zombie = turn
            task = asyncio.create_task(self._carry_on(turn, rest[said:]))
            self._zombies.add(task)
            await asyncio.Event().wait()
        await turn.finish()
        return reply

    async def _carry_on(self, turn: TurnPublisher, rest: list[str]) -> None:
        await self.later_attempt_opened.wait()
        for text in rest:
            turn.publish(text)
        await turn.finish()
        self.zombie_done.set()
