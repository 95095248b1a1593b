"""R4: PostgreSQL unreachable for audit writes. Every attempt during the outage fails with a
retryable error (so Temporal retries it); after recovery each record is there exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.audit import PostgresAuditActivities, audit_trail
from activities.db import create_bot_pool, is_unavailable
from activities.interfaces.audit import AuditEvent, AuditRecord
from tests.activities.tcp_proxy import proxied_database
from tests.support.servers import free_port, with_database


def record(call_id: str, step: int) -> AuditRecord:
    return AuditRecord(
        event_key=f"{call_id}:audit:{step}",
        call_id=call_id,
        workflow_id=call_id,
        event=AuditEvent.ORDER_CONFIRMED if step == 1 else AuditEvent.SMS_SENT,
        actor="system",
        order_number="100245",
        phone="+79161234567",
        at=datetime(2025, 11, 27, 12, 0, step, tzinfo=UTC),
    )


async def until_written(attempt: Callable[[], Awaitable[bool]], tries: int = 50) -> list[str]:
    """What Temporal does with a retryable failure: try again. Returns the failure types."""
    failures: list[str] = []
    for _ in range(tries):
        try:
            await attempt()
            return failures
        except ApplicationError as exc:
            assert exc.non_retryable is False, exc
            failures.append(exc.type or "")
            await asyncio.sleep(0.05)
    pytest.fail(f"still failing after {tries} attempts: {failures[-3:]}")


async def test_audit_writes_fail_retryably_while_the_network_is_down_then_land_once(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, database_url: str, call_id: str
) -> None:
    async with proxied_database(database_url) as (proxy, url):
        pool = await create_bot_pool(url, min_size=1, max_size=2)
        try:
            audit = PostgresAuditActivities(pool)
            assert await activity_env.run(audit.write_audit, record(call_id, 1)) is True

            await proxy.cut()
            for _ in range(3):  # both the dropped pooled connection and a refused reconnect
                with pytest.raises(ApplicationError) as caught:
                    await activity_env.run(audit.write_audit, record(call_id, 2))
                assert caught.value.type == "BotDatabaseUnavailable"
                assert caught.value.non_retryable is False
                assert "write audit sms_sent: bot database unavailable" in caught.value.message

            await proxy.restore()
            failures = await until_written(
                lambda: activity_env.run(audit.write_audit, record(call_id, 2))
            )
            assert set(failures) <= {"BotDatabaseUnavailable"}
            # The retry of a write whose reply was lost finds its row.
            assert await activity_env.run(audit.write_audit, record(call_id, 2)) is False
            assert await activity_env.run(audit.write_audit, record(call_id, 1)) is False
        finally:
            await pool.close()

    trail = await audit_trail(bot_pool, call_id=call_id)
    assert [entry.event_key for entry in trail] == [f"{call_id}:audit:1", f"{call_id}:audit:2"]


async def test_terminated_backends_are_retried_into_exactly_one_row(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, database_url: str, call_id: str
) -> None:
    pool = await create_bot_pool(database_url, min_size=1, max_size=1)
    try:
        audit = PostgresAuditActivities(pool)
        assert await activity_env.run(audit.write_audit, record(call_id, 1)) is True
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        assert await bot_pool.fetchval("SELECT pg_terminate_backend($1)", pid) is True

        failures = await until_written(
            lambda: activity_env.run(audit.write_audit, record(call_id, 2))
        )
        assert set(failures) <= {"BotDatabaseUnavailable"}
        assert await pool.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await pool.close()

    assert len(await audit_trail(bot_pool, call_id=call_id)) == 2


async def test_a_database_that_is_not_there_is_a_retryable_failure(
    activity_env: ActivityEnvironment, database_url: str, call_id: str
) -> None:
    # min_size=0: a worker can start its pool while PostgreSQL is still down.
    url = with_database(f"postgresql://nobody@127.0.0.1:{free_port()}/x", "x")
    pool = await create_bot_pool(url, min_size=0, max_size=1)
    try:
        with pytest.raises(ApplicationError) as caught:
            await activity_env.run(PostgresAuditActivities(pool).write_audit, record(call_id, 1))
    finally:
        await pool.close()
    assert (caught.value.type, caught.value.non_retryable) == ("BotDatabaseUnavailable", False)
    assert "ConnectionRefusedError" in caught.value.message


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        # What a terminated backend looks like, depending on when the pool notices; the
        # test above meets whichever the timing gives, so each is pinned here.
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.exceptions.InternalClientError("unexpected state"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        # Our mistakes: retrying them unchanged helps nobody.
        (
            asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
            False,
        ),
        (asyncpg.exceptions.UndefinedTableError('relation "bot.x" does not exist'), False),
    ],
)
def test_which_driver_errors_count_as_the_database_being_away(
    exc: Exception, unavailable: bool
) -> None:
    assert is_unavailable(exc) is unavailable
