"""What every long-running service command (`worker`, `edge`) does before its real work.

`connect_or_explain` also serves the client commands (`chat`, `history`, `ops`).
"""

from __future__ import annotations

import asyncio
import signal

import click
from temporalio.client import Client

from core.settings import Settings
from core.temporal import connect


def stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so the service can finish its calls and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def connect_or_explain(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except RuntimeError as exc:
        raise click.ClickException(
            f"cannot reach Temporal at {settings.temporal_address}: {exc}"
        ) from None
