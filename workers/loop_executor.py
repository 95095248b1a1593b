"""`EventLoopExecutor`: workflow activations on the worker's event loop instead of a thread.

The SDK hands every workflow activation to a thread pool so that it can notice a workflow
that never yields (its 2 s deadlock detection) and so that a sandboxed workflow runs apart.
Each hop costs a thread wake-up there and a self-pipe write back, and the two threads then
take turns at the GIL: under load the activation waits behind the loop's activities (and
they behind it) in 5 ms slices (`sys.getswitchinterval`). Our workflow code never blocks —
all its I/O is in activities, and the sandboxed tests' deadlock detection would catch one
that did — so production runs activations on the loop itself, one after another with the
activities' callbacks, with no thread in between (measured: docs/benchmarks.md, B2).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class EventLoopExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each submitted call as a callback of `loop`, from the loop's own thread.

    A `ThreadPoolExecutor` only because the SDK's option is typed so; it never starts a
    thread. The call is scheduled with `call_soon`, not run inside `submit`: `submit` is
    called from the middle of the SDK's own task step, and entering another task there is
    refused by newer Pythons. What is lost is the SDK's deadlock timeout, which cannot fire
    while the loop is busy: a workflow stuck in a loop would stall the worker, not fail its
    task. The tests run the same workflows with the SDK's thread pool and that timeout.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(max_workers=1)
        self._loop = loop

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            # An activation makes its workflow's loop the running one and clears it on exit:
            # put the worker's loop back for the callbacks after it.
            running = asyncio._get_running_loop()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # the SDK reads it from the future, as from a thread
                future.set_exception(exc)
            finally:
                asyncio._set_running_loop(running)

        # An empty context, as a fresh pool thread has: nothing bound in the SDK's task (a log
        # field, a tracing span) reaches workflow code.
        self._loop.call_soon(run, context=contextvars.Context())
        return future
