"""Versioned SQL migrations: `NNNN_name.sql` files applied once each, in order.

Each component (the Store API, the bot) owns a folder of files and its own version line in
`public.voiceorder_migrations`. A file runs in one transaction together with its bookkeeping
row, and an advisory lock keeps two processes starting at once from racing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from core.db import DbConn

log = structlog.get_logger(__name__)

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_LOCK_ID = 0x766F6963  # "voic": one lock for every component's migrations


class MigrationError(RuntimeError):
    """A migration folder is malformed or a migration failed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(folder: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_snake_case.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return migrations


async def apply_migrations(conn: DbConn, component: str, folder: Path) -> list[str]:
    """Apply what is missing; return the names applied now (empty when up to date)."""
    migrations = discover(folder)
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS public.voiceorder_migrations (
                   component text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        done = {
            row["version"]
            for row in await conn.fetch(
                "SELECT version FROM public.voiceorder_migrations WHERE component = $1", component
            )
        }
        for migration in migrations:
            if migration.version in done:
                continue
            sql = migration.path.read_text(encoding="utf-8")
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO public.voiceorder_migrations (component, version, name)"
                        " VALUES ($1, $2, $3)",
                        component,
                        migration.version,
                        migration.name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"{component} migration {migration.path.name} failed: {exc}"
                ) from exc
            log.info("migration applied", component=component, migration=migration.path.name)
            applied_now.append(migration.path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now
