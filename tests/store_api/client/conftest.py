"""A StoreApiClient on the session's real Store API, with its own breaker per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from store_api.client import CircuitBreaker, RetryPolicy, StoreApiClient
from tests.store_api.client.helpers import FAST_BACKOFF, TIMEOUT_S, MakeClient
from tests.support.servers import StoreApiServer


@pytest.fixture
async def make_client(store_api: StoreApiServer) -> AsyncIterator[MakeClient]:
    """Build clients with a fresh breaker each, so no test sees another's breaker state."""
    made: list[StoreApiClient] = []

    def make(
        *,
        token: str | None = None,
        timeout_s: float = TIMEOUT_S,
        attempts: int = 3,
        total_timeout_s: float = 60.0,
        threshold: int = 1000,
        reset_s: float = 30.0,
    ) -> StoreApiClient:
        client = StoreApiClient(
            store_api.base_url,
            token or store_api.token,
            timeout_s=timeout_s,
            retry=RetryPolicy(attempts=attempts, total_timeout_s=total_timeout_s, **FAST_BACKOFF),
            breaker=CircuitBreaker(
                f"test-{uuid.uuid4().hex[:8]}", threshold=threshold, reset_timeout_s=reset_s
            ),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> StoreApiClient:
    return make_client()
