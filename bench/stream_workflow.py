"""The workflow of the stream-channel benchmark: one update = one turn = one activity.

It always hosts a `WorkflowStream` (the workflow_streams channel needs the stream in the
workflow whose activity publishes; the other channels ignore it). Kept apart from
bench/stream_channel.py so the workflow sandbox imports nothing but this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.contrib.workflow_streams import WorkflowStream


@dataclass
class SpeakTurn:
    """What the activity publishes: `sentences` on `channel` for `stream` (an edge-side id)."""

    channel: str
    stream: str
    sentences: int
    url: str = ""


@workflow.defn(name="BenchStreamTurn")
class StreamTurnWorkflow:
    def __init__(self) -> None:
        self.stream = WorkflowStream()
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.update(name="turn")
    async def turn(self, request: SpeakTurn) -> int:
        published: int = await workflow.execute_activity(
            "bench_speak",
            request,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(maximum_attempts=1),
            result_type=int,
        )
        return published

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.stream.detach_pollers()
        self._done = True
