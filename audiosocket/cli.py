"""`voiceorder edge`: the AudioSocket/ARI edge in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio

import click

from core.logging import configure_logging
from core.process_exit import exit_now
from core.service_cli import check_payload_keys, connect_or_explain, stop_on_signals
from core.settings import get_settings
from core.startup_heap import freeze_startup_heap
from core.tracing import flush_tracing, tracing_interceptors

SERVICE_NAME = "voiceorder-edge"


@click.command("edge")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve GET /metrics (Prometheus text) and GET /health on this port of METRICS_HOST "
    "(default 127.0.0.1: no authentication); 0 picks a free one. Off by default.",
)
def edge_command(metrics_port: int | None) -> None:
    """Answer calls: AudioSocket on AUDIOSOCKET_HOST:AUDIOSOCKET_PORT, ARI when ARI_URL is set."""
    from audiosocket.ari import AriError
    from audiosocket.edge import Edge, EdgeError

    settings = get_settings()
    check_payload_keys(settings)
    configure_logging(settings)

    async def main() -> None:
        stop = stop_on_signals()
        interceptors = tracing_interceptors(settings, SERVICE_NAME)
        client = await connect_or_explain(settings, interceptors=interceptors, service="edge")
        try:
            edge = Edge.from_settings(settings, client, metrics_port=metrics_port)
        except EdgeError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            await edge.start()
        except EdgeError as exc:
            await edge.close()
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            await edge.close()
            raise click.ClickException(
                f"cannot listen on {settings.audiosocket_host}:{settings.audiosocket_port} "
                f"(AUDIOSOCKET_HOST/AUDIOSOCKET_PORT): {exc.strerror or exc}"
            ) from None
        # Loaded and warmed up: a full collection would stall every call's audio ~100 ms.
        freeze_startup_heap()
        try:
            await edge.serve(stop)
        except AriError as exc:
            hint = " (check ARI_USER/ARI_PASSWORD)" if exc.status in (401, 403) else ""
            message = f"ARI at {settings.ari_url} refused us: {exc}{hint}"
            raise click.ClickException(message) from None
        finally:
            await edge.close()

    try:
        asyncio.run(main())
    except click.ClickException as exc:
        exc.show()  # then leave without the Temporal runtime's exit-time crash
        exit_now(exc.exit_code)
    finally:
        flush_tracing()
    exit_now(0)
