"""Child processes of a benchmark: the worker and the edges run as in production, each its
own process, with its output in a log file of the run's working directory."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

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
