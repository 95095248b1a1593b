"""Fixtures of the activity tests: the bot schema on the session's PostgreSQL, an activity
context, and a fresh call id per test so tests sharing the database never see each other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.db import create_bot_pool, migrate_bot_schema


@pytest.fixture(scope="session")
async def bot_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_bot_pool(database_url, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate_bot_schema(conn)
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def activity_env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def call_id() -> str:
    return f"call-{uuid.uuid4()}"
