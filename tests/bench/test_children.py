"""The benchmarks' child processes: lowering the priority of what a benchmark started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.children import lower_children_priority

# The benchmark's stand-in (lowering this test's own children would lower the suite's
# servers): it starts CHILD and passes on what CHILD prints.
PARENT = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]])"
# Two threads and a grandchild, all asleep until killed; prints its pid and the grandchild's.
CHILD = """
import os, subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(os.getpid(), grandchild.pid, flush=True)
time.sleep(60)
"""


def niceness_of_every_thread(pid: int) -> set[int]:
    return {
        os.getpriority(os.PRIO_PROCESS, int(task.name))
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def test_every_thread_of_every_descendant_is_lowered_and_the_parent_is_not() -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    family: list[int] = []
    try:
        assert parent.stdout is not None
        family = [int(pid) for pid in parent.stdout.readline().split()]
        child, grandchild = family
        assert len(list(Path(f"/proc/{child}/task").iterdir())) >= 2, "two threads"

        assert lower_children_priority(3, parent=parent.pid) == 2

        lowered = min(19, ours + 3)
        assert niceness_of_every_thread(child) == {lowered}
        assert niceness_of_every_thread(grandchild) == {lowered}
        assert niceness_of_every_thread(parent.pid) == {ours}
    finally:
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()
