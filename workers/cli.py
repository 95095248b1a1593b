"""`voiceorder worker`: run the Temporal worker until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import click

from voiceorder.logging import configure_logging
from voiceorder.process_exit import exit_now
from voiceorder.settings import get_settings
from voiceorder.temporal import connect


@click.command("worker")
def worker_command() -> None:
    """Run CallWorkflow and its activities on TEMPORAL_TASK_QUEUE."""
    from workers.worker import run_worker

    settings = get_settings()
    configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            client = await connect(settings)
        except RuntimeError as exc:
            raise click.ClickException(
                f"cannot reach Temporal at {settings.temporal_address}: {exc}"
            ) from None
        await run_worker(client, settings, stop)

    asyncio.run(main())
    exit_now(0)
