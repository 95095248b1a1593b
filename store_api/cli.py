"""`voiceorder store-api …`: run, migrate and seed the reference Store API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import asyncpg
import click

from core.logging import configure_logging
from core.settings import get_settings


@click.group("store-api")
def store_api_group() -> None:
    """The reference Store API (aiohttp + PostgreSQL)."""


@store_api_group.command("serve")
def serve_command() -> None:
    """Serve the API on STORE_API_HOST:STORE_API_PORT (migrates first)."""
    from store_api.server.app import ConfigurationError, serve

    settings = get_settings()
    configure_logging(settings)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve(settings)

    try:
        asyncio.run(main())
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {settings.store_api_host}:{settings.store_api_port}: {exc}"
        ) from None


@store_api_group.command("seed")
def seed_command() -> None:
    """Apply migrations and load the demo data (only into an empty catalogue)."""
    from core.db.migrate import apply_migrations
    from store_api.seed.loader import seed_store
    from store_api.server.app import MIGRATIONS, ConfigurationError, store_database_url
    from store_api.server.state import ServerState

    settings = get_settings()
    configure_logging(settings)

    async def main() -> str:
        conn = await asyncpg.connect(store_database_url(settings))
        try:
            await apply_migrations(conn, "store", MIGRATIONS)
            report = await seed_store(conn, today=ServerState.today())
        finally:
            await conn.close()
        return str(report)

    try:
        click.echo(asyncio.run(main()))
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, asyncpg.PostgresError) as exc:
        click.echo(f"seed failed: {exc}", err=True)
        sys.exit(1)
