"""The bot's PostgreSQL: one pool per worker process, its migrations, and how its failures
reach Temporal.

Activities never swallow a database failure. A connection that is refused, dropped or timed
out becomes a retryable `ApplicationError` of type `BotDatabaseUnavailable`, so Temporal keeps
retrying until PostgreSQL is back (R4); a row the database refuses as invalid becomes a
non-retryable `BotDataRejected`, because retrying the same bad row forever helps nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from temporalio.exceptions import ApplicationError

from core.db import DbConn
from core.db.migrate import apply_migrations
from core.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
COMPONENT = "bot"

# Fail fast while PostgreSQL is away so the attempt ends well within the activity's
# start-to-close timeout and Temporal schedules the next one.
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
ACQUIRE_TIMEOUT_S = 10.0

UNAVAILABLE = "BotDatabaseUnavailable"
REJECTED = "BotDataRejected"


class BotDatabaseNotConfigured(RuntimeError):
    """The worker was started without DATABASE_URL."""


def bot_database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise BotDatabaseNotConfigured(
            "DATABASE_URL is not set: the worker needs the bot's PostgreSQL for audit, call log"
            " and SMS (`voiceorder up` sets it for the processes it starts)"
        )
    return settings.database_url


async def create_bot_pool(
    database_url: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """The pool a worker process shares between all its activities; close it on shutdown."""
    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        server_settings={"application_name": "voiceorder-bot"},
    )


async def pool_from_settings(settings: Settings, *, max_size: int = 10) -> asyncpg.Pool:
    return await create_bot_pool(bot_database_url(settings), max_size=max_size)


async def migrate_bot_schema(conn: DbConn) -> list[str]:
    """Create or update schema `bot`; safe to call from every process at start-up."""
    return await apply_migrations(conn, COMPONENT, MIGRATIONS)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached or dropped us, not that it
    refused what we sent: worth retrying unchanged."""
    if isinstance(exc, OSError | TimeoutError):  # refused, reset, unreachable, timed out
        return True
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError  # class 08: connection lost or rejected
        | asyncpg.exceptions.OperatorInterventionError  # 57: shutdown, restart, cancel
        | asyncpg.exceptions.InsufficientResourcesError  # 53: too many connections, disk
        | asyncpg.exceptions.TransactionRollbackError  # 40: serialization, deadlock
        | asyncpg.exceptions.ReadOnlySQLTransactionError,  # a failover in progress
    ):
        return True
    # A backend terminated while its connection sat idle in the pool: the next query can
    # meet the unread FATAL message and asyncpg reports a confused protocol state. The pool
    # discards that connection on release, so the retry gets a fresh one.
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return True
    # asyncpg reports "connection is closed" and "pool is closing" as InterfaceError, a
    # class it shares with programming errors; only the former are transient.
    return isinstance(exc, asyncpg.InterfaceError) and "clos" in str(exc)


def is_rejected(exc: BaseException) -> bool:
    """Whether the database refused the data itself (bad value, broken constraint)."""
    return isinstance(
        exc, asyncpg.exceptions.DataError | asyncpg.exceptions.IntegrityConstraintViolationError
    )


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turn database failures inside the block into typed Temporal errors.

    `what` names the operation for the Web UI's Pending Activities tab ("write audit
    order_confirmed"); it must not contain personal data.
    """
    try:
        yield
    except ApplicationError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise ApplicationError(
                f"{what}: bot database unavailable ({type(exc).__name__}: {_short(exc)})",
                type=UNAVAILABLE,
                non_retryable=False,
            ) from bare(exc)
        if is_rejected(exc):
            raise ApplicationError(
                f"{what}: bot database rejected the row ({type(exc).__name__}: {_short(exc)})",
                type=REJECTED,
                non_retryable=True,
            ) from bare(exc)
        raise


def bare(exc: BaseException) -> BaseException:
    """`exc` without its traceback and chain, to hang under an ApplicationError.

    Temporal keeps an activity's last failure within a few KiB; a driver's deep traceback
    (asyncpg, httpx) pushes it over and the Web UI then shows only "Failure exceeds size
    limit." instead of our message and type. The type and message of the cause stay.
    """
    exc.__cause__ = exc.__context__ = None
    exc.__suppress_context__ = True
    return exc.with_traceback(None)


def _short(exc: BaseException) -> str:
    # The first line is the server's message; DETAIL lines can quote row values.
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
