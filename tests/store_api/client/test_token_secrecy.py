"""The Store API token (docs/security.md): the client sends it as the bearer header only; no
error, log line or repr of the client carries it — refused, retried through an outage, or
given up on."""

from __future__ import annotations

import logging
import uuid

import pytest
import structlog

from store_api.client import CircuitBreaker, RetryPolicy, StoreApiClient, StoreApiError
from tests.store_api.client.helpers import FAST_BACKOFF, MakeClient
from tests.support.servers import free_port


async def test_the_token_is_in_no_error_log_line_or_repr(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = f"tok-{uuid.uuid4().hex}"
    errors: list[str] = []
    with structlog.testing.capture_logs() as logs:
        refused = make_client(token=token)
        with pytest.raises(StoreApiError) as raised:
            await refused.search_products("гречка")
        errors += [str(raised.value), repr(raised.value), repr(refused)]
        away = StoreApiClient(
            f"http://127.0.0.1:{free_port()}/api/v1",
            token,
            timeout_s=0.5,
            retry=RetryPolicy(attempts=2, total_timeout_s=5, **FAST_BACKOFF),
            breaker=CircuitBreaker(
                f"test-{uuid.uuid4().hex[:8]}", threshold=1000, reset_timeout_s=30.0
            ),
        )
        try:
            with pytest.raises(StoreApiError) as raised:
                await away.search_products("гречка")
            errors += [str(raised.value), repr(raised.value), repr(away)]
        finally:
            await away.aclose()

    assert raised.value.retryable, "the outage was retried"
    assert any(line["event"] == "store_api_retry" for line in logs)
    assert [e for e in errors if token in e] == []
    assert token not in repr(logs) and token not in caplog.text
