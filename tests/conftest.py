"""Session-wide real servers. See tests/support/servers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.servers import (
    StoreApiServer,
    postgres_database,
    server_data_dir,
    store_api_server,
)


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh database on a real PostgreSQL for this test session."""
    with server_data_dir("voiceorder-test-pg-") as workdir:
        async with postgres_database(workdir) as url:
            yield url


@pytest.fixture(scope="session")
async def store_api(database_url: str) -> AsyncIterator[StoreApiServer]:
    """The reference Store API, migrated and seeded with the demo data, on a free port."""
    async with store_api_server(database_url) as server:
        yield server


@pytest.fixture
async def store_api_clean_faults(store_api: StoreApiServer) -> AsyncIterator[StoreApiServer]:
    """The Store API with fault injection switched off again after the test."""
    try:
        yield store_api
    finally:
        await store_api.clear_faults()
