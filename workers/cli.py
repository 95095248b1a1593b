"""`voiceorder worker`: run the Temporal worker until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio

import click

from core.logging import configure_logging
from core.process_exit import exit_now
from core.service_cli import connect_or_explain, stop_on_signals
from core.settings import get_settings


@click.command("worker")
def worker_command() -> None:
    """Run CallWorkflow and its activities on TEMPORAL_TASK_QUEUE."""
    from workers.worker import run_worker

    settings = get_settings()
    configure_logging(settings)

    async def main() -> None:
        stop = stop_on_signals()
        client = await connect_or_explain(settings, service="worker")
        await run_worker(client, settings, stop)

    asyncio.run(main())
    exit_now(0)
