"""What every long-running service command (`worker`, `edge`) does before its real work.

`connect_or_explain` also serves the client commands (`chat`, `history`, `ops`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import click
from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from core.settings import ConfigurationError, Settings
from core.temporal import connect


def stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so the service can finish its calls and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def connect_or_explain(
    settings: Settings,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    try:
        return await connect(settings, interceptors=interceptors, runtime=runtime)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        tls = " (TLS)" if settings.temporal_uses_tls else ""
        raise click.ClickException(
            f"cannot reach Temporal at {settings.temporal_address}{tls}: {exc}"
        ) from None
