"""A supervisor over two stand-in children, run as its own process by the signal tests.

    python supervised.py WORKDIR
Each child writes its pid to WORKDIR/<name>.pid when ready; `ready` appears when all are.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from voiceorder.stack.supervisor import ReadyCheck, ServiceSpec, Supervisor

CHILD = Path(__file__).with_name("child.py")


def wait_for_file(path: Path) -> ReadyCheck:
    """Ready once the child has written `path`."""

    async def ready(process: asyncio.subprocess.Process) -> None:
        while not await asyncio.to_thread(path.exists):
            if process.returncode is not None:
                raise RuntimeError(f"exited with code {process.returncode}")
            await asyncio.sleep(0.05)

    return ready


def main() -> int:
    workdir = Path(sys.argv[1])
    services = [
        ServiceSpec(
            name,
            [sys.executable, str(CHILD), name, str(workdir / f"{name}.pid")],
            ready=wait_for_file(workdir / f"{name}.pid"),
        )
        for name in ("first", "second")
    ]

    def mark_ready() -> None:
        (workdir / "ready").write_text("all ready")

    supervisor = Supervisor(services, on_ready=mark_ready)
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    sys.exit(main())
