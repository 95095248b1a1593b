"""`voiceorder worker`: run the Temporal worker until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio

import click

from core.local_stack import stack_file
from core.logging import configure_logging
from core.process_exit import exit_now
from core.service_cli import connect_or_explain, stop_on_signals
from core.settings import Settings, get_settings
from core.tracing import flush_tracing, tracing_interceptors

SERVICE_NAME = "voiceorder-worker"


@click.command("worker")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Export the Temporal SDK's metrics (task latencies, slots, polls, failures) as "
    "Prometheus text at http://METRICS_HOST:PORT/metrics (default 127.0.0.1: no "
    "authentication). Off by default.",
)
def worker_command(metrics_port: int | None) -> None:
    """Run CallWorkflow and its activities on TEMPORAL_TASK_QUEUE."""
    from workers.metrics import MetricsExportError, metrics_runtime
    from workers.worker import run_worker

    settings = get_settings()
    if not settings.database_url:
        # Before anything starts: the worker cannot run without the bot's database.
        raise click.ClickException(_no_database(settings))
    configure_logging(settings)

    async def main() -> None:
        stop = stop_on_signals()
        try:
            runtime = (
                metrics_runtime(settings.metrics_host, metrics_port)
                if metrics_port is not None
                else None
            )
        except MetricsExportError as exc:
            raise click.ClickException(str(exc)) from None
        interceptors = tracing_interceptors(settings, SERVICE_NAME)
        client = await connect_or_explain(settings, interceptors=interceptors, runtime=runtime)
        await run_worker(client, settings, stop)

    try:
        asyncio.run(main())
    except click.ClickException as exc:
        exc.show()  # then leave without the Temporal runtime's exit-time crash
        exit_now(exc.exit_code)
    finally:
        flush_tracing()
    exit_now(0)


def _no_database(settings: Settings) -> str:
    return (
        "DATABASE_URL is not set, and no `voiceorder up` runs with this DATA_DIR "
        f"({stack_file(settings.data_dir.resolve())} names a running one): start `./dev up` "
        "first — a worker started beside it joins its stack — or set DATABASE_URL (and "
        "TEMPORAL_ADDRESS, STORE_API_URL) to the stack this worker should join"
    )
