"""Building and running the aiohttp application."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import structlog
from aiohttp import web

from core.db.migrate import apply_migrations
from core.settings import Settings, StoreApiMode
from store_api.contract import API_PREFIX, MAX_BODY_BYTES
from store_api.server.faults import FaultConfig
from store_api.server.idempotency import purge_expired
from store_api.server.middleware import guard, request_context
from store_api.server.openapi import build_openapi
from store_api.server.protocol import StoreApiRunner
from store_api.server.routes import admin, catalogue, orders
from store_api.server.routes.catalogue import FUZZY_THRESHOLD
from store_api.server.state import STATE, ServerState

log = structlog.get_logger("store_api")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_PURGE_EVERY_S = 3600


class ConfigurationError(RuntimeError):
    """The server was asked to start with settings it must refuse."""


def server_token(settings: Settings) -> str:
    token = settings.effective_store_api_token
    if token is None:
        raise ConfigurationError(
            "STORE_API_TOKEN is required in prod mode (STORE_API_MODE=prod); "
            "set it, or use STORE_API_MODE=dev for local development."
        )
    return token


def fault_config(settings: Settings) -> FaultConfig:
    config = FaultConfig(
        latency_ms=settings.store_api_fault_latency_ms,
        error_rate=settings.store_api_fault_error_rate,
    )
    if settings.store_api_mode is StoreApiMode.PROD and (config.latency_ms or config.error_rate):
        raise ConfigurationError("fault injection is for dev/test mode only (STORE_API_MODE)")
    return config


def store_database_url(settings: Settings) -> str:
    url = settings.effective_store_database_url
    if url is None:
        raise ConfigurationError(
            "set STORE_DATABASE_URL or DATABASE_URL (voiceorder up sets it for you)"
        )
    return url


async def _openapi(_: web.Request) -> web.Response:
    return web.json_response(build_openapi(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


def create_app(state: ServerState) -> web.Application:
    app = web.Application(middlewares=[request_context, guard], client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    app.router.add_get(f"{API_PREFIX}/openapi.json", _openapi)
    app.add_routes(catalogue.routes)
    app.add_routes(orders.routes)
    if state.admin_enabled:
        app.add_routes(admin.routes)
    return app


async def _purge_loop(pool: asyncpg.Pool) -> None:
    while True:
        try:
            removed = await purge_expired(pool)
            if removed:
                log.info("expired idempotency keys purged", count=removed)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("idempotency purge failed", error=str(exc))
        await asyncio.sleep(_PURGE_EVERY_S)


# The product search's fuzzy match (`<%`, routes/catalogue.py) takes its threshold from the
# session. Generic plans: on a catalogue this small PostgreSQL plans a literal query as a scan
# that computes the trigram similarity of every product (~1.7 ms a search here); the generic
# plan reads both GIN indexes (~0.4 ms). The other queries are key look-ups on small tables
# (not measured one by one; the tests' catalogue search fails without these settings).
SESSION_SETTINGS = {
    "pg_trgm.word_similarity_threshold": str(FUZZY_THRESHOLD),
    "plan_cache_mode": "force_generic_plan",
}


async def serve(settings: Settings) -> None:
    """Migrate, then serve until cancelled."""
    token = server_token(settings)
    faults = fault_config(settings)
    url = store_database_url(settings)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=20, server_settings=SESSION_SETTINGS)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, "store", MIGRATIONS)
        state = ServerState.create(
            pool, token, settings.store_api_mode, faults, settings.store_api_rate_limit_rps
        )
        runner = StoreApiRunner(create_app(state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.store_api_host, settings.store_api_port)
        await site.start()
        log.info(
            "store api listening",
            url=f"http://{settings.store_api_host}:{settings.store_api_port}{API_PREFIX}",
            mode=settings.store_api_mode.value,
        )
        purger = asyncio.create_task(_purge_loop(pool))
        try:
            await asyncio.Event().wait()
        finally:
            purger.cancel()
            await runner.cleanup()
    finally:
        await pool.close()
