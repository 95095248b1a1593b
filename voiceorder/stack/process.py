"""Child processes that never outlive their parent (Linux `PR_SET_PDEATHSIG`)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when its parent dies.

    subprocess runs it after switching user, which matters: a credential change clears the
    setting. Returns None off Linux, where the caller simply loses this safety net.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def _preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return _preexec


def child_setup(sig: signal.Signals, nice: int = 0) -> Callable[[], None] | None:
    """A `preexec_fn`: `die_with_parent(sig)`, and `nice` added to the child's niceness (what
    nice(1) does: raising it needs no privilege, and every thread the child starts inherits
    it, which a renice after the start would miss)."""
    die = die_with_parent(sig)
    if not nice:
        return die

    def _preexec() -> None:
        if die is not None:
            die()
        os.nice(nice)

    return _preexec


async def stop_child(
    process: asyncio.subprocess.Process, sig: signal.Signals, within_s: float
) -> None:
    """Send `sig` (the server's own graceful stop); kill it if it is not gone within_s."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), within_s)
    except TimeoutError:
        process.kill()
        await process.wait()
