"""`EventLoopExecutor`: what the SDK submits runs on the worker's loop, in its thread, and the
loop is left as it was found."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid

import pytest
from temporalio import workflow

from core.settings import Settings
from tests.support.temporal import temporal_dev_server
from workers.loop_executor import EventLoopExecutor
from workers.worker import build_worker


async def test_a_submitted_call_runs_on_the_loop_thread_and_returns_its_result() -> None:
    loop = asyncio.get_running_loop()
    executor = EventLoopExecutor(loop)
    threads_before = threading.active_count()
    ran_in: list[threading.Thread] = []

    def activation(value: int) -> int:
        ran_in.append(threading.current_thread())
        return value * 2

    assert await loop.run_in_executor(executor, activation, 21) == 42
    assert ran_in == [threading.current_thread()]
    assert threading.active_count() == threads_before  # no pool thread was started


async def test_calls_run_in_the_order_submitted_not_inside_submit() -> None:
    loop = asyncio.get_running_loop()
    executor = EventLoopExecutor(loop)
    order: list[str] = []
    first = loop.run_in_executor(executor, order.append, "first")
    second = loop.run_in_executor(executor, order.append, "second")
    order.append("submitted")  # submit only schedules: nothing ran yet
    await asyncio.gather(first, second)
    assert order == ["submitted", "first", "second"]


async def test_an_error_reaches_the_awaiting_side() -> None:
    loop = asyncio.get_running_loop()

    def failing() -> None:
        raise RuntimeError("workflow task failed")

    with pytest.raises(RuntimeError, match="workflow task failed"):
        await loop.run_in_executor(EventLoopExecutor(loop), failing)


async def test_the_running_loop_is_restored_after_a_call_that_clears_it() -> None:
    """An activation sets its workflow's own loop as the running one and clears it on exit;
    the worker's loop must still be the running one for the callbacks after it."""
    loop = asyncio.get_running_loop()

    def like_an_activation() -> None:
        asyncio._set_running_loop(None)

    await loop.run_in_executor(EventLoopExecutor(loop), like_an_activation)
    assert asyncio.get_running_loop() is loop
    await asyncio.sleep(0)  # and the loop still schedules


async def test_a_cancelled_call_does_not_run() -> None:
    loop = asyncio.get_running_loop()
    ran: list[int] = []
    future = EventLoopExecutor(loop).submit(ran.append, 1)
    assert future.cancel()
    await asyncio.sleep(0)
    assert ran == []


_BOUND: contextvars.ContextVar[str] = contextvars.ContextVar("bound", default="nothing")


async def test_a_call_sees_none_of_the_submitting_tasks_context() -> None:
    """As in a fresh pool thread: a value bound where the SDK submits is not visible."""
    loop = asyncio.get_running_loop()
    _BOUND.set("the sdk's task")
    seen = await loop.run_in_executor(EventLoopExecutor(loop), _BOUND.get)
    assert seen == "nothing"


@workflow.defn(sandboxed=False)
class WhichThread:
    """Answers the name of the thread its activation ran in (a test probe, not a product
    workflow: it reads the thread, which workflow code must not do)."""

    @workflow.run
    async def run(self) -> str:
        return threading.current_thread().name


@pytest.mark.parametrize(("sandboxed", "on_loop_thread"), [(False, True), (True, False)])
async def test_the_production_worker_runs_activations_on_its_loop_thread(
    sandboxed: bool, on_loop_thread: bool
) -> None:
    """`build_worker` wires the executor in for production (unsandboxed) and leaves the
    tests' sandboxed worker on the SDK's thread pool."""
    settings = Settings(_env_file=None, temporal_task_queue=f"loop-{uuid.uuid4()}")
    async with temporal_dev_server() as env:
        worker = build_worker(
            env.client, settings, [], extra_workflows=[WhichThread], sandboxed=sandboxed
        )
        async with worker:
            name = await env.client.execute_workflow(
                WhichThread.run,
                id=f"which-thread-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )
    assert (name == threading.current_thread().name) is on_loop_thread
