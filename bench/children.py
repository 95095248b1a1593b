"""Child processes of a benchmark: the worker and the edges run as in production, each its
own process, with its output in a log file of the run's working directory."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@asynccontextmanager
async def child_process(
    name: str,
    args: list[str],
    env: dict[str, str],
    ready: Callable[[], Awaitable[bool]],
    workdir: Path,
) -> AsyncIterator[Path]:
    """Run `args` until the block ends, once `ready()` says so; yields its log file."""
    path = workdir / f"{name}.log"
    log = path.open("wb")
    process = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=workdir, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not await ready():
                if process.returncode is not None:
                    raise RuntimeError(f"{name} exited: see {path}")
                await asyncio.sleep(0.1)
        yield path
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


def lower_children_priority(by: int, parent: int | None = None) -> int:
    """Add `by` to the niceness of every process `parent` (default: this one) started so far,
    and of their descendants, as `voiceorder up` starts everything but the edges
    (core/cpu_priority.py); `parent` and whatever it starts later keep theirs. Every thread
    is set: Linux keeps niceness per thread. Returns how many processes."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    todo = list(children.get(os.getpid() if parent is None else parent, []))
    lowered = 0
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                tid = int(task.name)
                niceness = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(19, niceness + by))
            lowered += 1
    return lowered


async def port_taken(port: int) -> bool:
    """Whether something listens on the port, probed by bind: a connection without a UUID
    frame would show up in the edge's log as a broken call."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def worker_env(
    *, database_url: str, store_api: Any, llm: Any, temporal: Any, queue: str
) -> dict[str, str]:
    """What a benchmark's worker and edges share: the stack's addresses and the task queue
    (the fakes' and servers' objects from tests/support, typed loosely: benchmarks import
    them only when they run). Their logs are JSON, one record a line: read by the benchmarks
    (B4's turn records) and by whoever digs into a run afterwards."""
    return {
        "LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        "STORE_API_URL": store_api.base_url,
        "STORE_API_TOKEN": store_api.token,
        "STORE_API_MODE": "test",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "bench",
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": queue,
        "SMS_PROVIDER": "database",
    }


def worker_polling(client: Client, queue: str) -> Callable[[], Awaitable[bool]]:
    """A readiness probe: whether a worker polls `queue` for workflow tasks yet."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )

    async def polling() -> bool:
        described = await client.workflow_service.describe_task_queue(request)
        return bool(described.pollers)

    return polling
