"""The floor of B1: a workflow whose update does nothing, on the same server and worker."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchNoop")
class NoopWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update(name="noop")
    async def noop(self) -> int:
        return 0

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self._done = True
