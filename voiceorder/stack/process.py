"""Child processes that never outlive their parent (Linux `PR_SET_PDEATHSIG`)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
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
