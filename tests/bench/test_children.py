"""The benchmarks' child processes: lowering the priority of what a benchmark started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.children import lower_children_priority

# A child with a second thread and a grandchild, all asleep until killed.
FAMILY = """
import subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def niceness_of_every_thread(pid: int) -> set[int]:
    return {
        os.getpriority(os.PRIO_PROCESS, int(task.name))
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def test_every_thread_of_every_descendant_is_lowered_and_this_process_is_not() -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    child = subprocess.Popen([sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True)
    grandchild: int | None = None
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        assert len(list(Path(f"/proc/{child.pid}/task").iterdir())) >= 2, "two threads"

        assert lower_children_priority(3) >= 2

        lowered = min(19, ours + 3)
        assert niceness_of_every_thread(child.pid) == {lowered}
        assert niceness_of_every_thread(grandchild) == {lowered}
        assert os.getpriority(os.PRIO_PROCESS, 0) == ours
    finally:
        child.kill()
        child.wait()
        if grandchild is not None:
            os.kill(grandchild, signal.SIGKILL)
