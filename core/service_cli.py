"""What every long-running service command (`worker`, `edge`) does before its real work.

`connect_or_explain` also serves the client commands (`chat`, `history`, `ops`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import click
import structlog
from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from core.settings import ConfigurationError, Settings
from core.temporal import connect, converter_for, encrypts


def stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so the service can finish its calls and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def check_payload_keys(settings: Settings) -> None:
    """Refuse before anything starts when the payload keys are wrong or, in prod, missing
    (the same check `connect_or_explain` makes, for a service to make first)."""
    converter_for(settings)  # raises ConfigurationError, one line through the CLI


async def connect_or_explain(
    settings: Settings,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
    service: str | None = None,
) -> Client:
    """A client with this process's payload keys; `service` names a worker or edge, which
    warns in its log when it would write callers' data unencrypted (dev without keys)."""
    try:
        # Keys first: a key problem is a configuration error, not "cannot reach Temporal".
        converter = converter_for(settings)
        if service is not None and not encrypts(converter):
            structlog.get_logger(service).warning(
                "payloads are NOT encrypted: no PAYLOAD_KEYS, PAYLOAD_KEYS_FILE or local key "
                "(`voiceorder up` makes one); refused with STORE_API_MODE=prod"
            )
        return await connect(
            settings, interceptors=interceptors, runtime=runtime, converter=converter
        )
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        tls = " (TLS)" if settings.temporal_uses_tls else ""
        raise click.ClickException(
            f"cannot reach Temporal at {settings.temporal_address}{tls}: {exc}"
        ) from None
