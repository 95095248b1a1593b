"""The retry policy, phone masking and client construction, without a server."""

from __future__ import annotations

import time

import pytest

from core.settings import Settings
from store_api.client import (
    CircuitBreaker,
    RetryPolicy,
    StoreApiClient,
    breaker_for,
    mask_phones_in,
    reset_breakers,
)
from store_api.client import errors as e
from store_api.client.client import request_id_of
from store_api.client.retry import Deadline, should_retry


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (e.StoreUnavailable("503", status=503), True),
        (e.StoreTimeout("slow"), True),
        (e.StoreConnectionError("refused"), True),
        (e.StoreRateLimited("429", status=429), True),
        (e.IdempotencyKeyInProgress("busy", status=409), True),
        (e.StoreBreakerOpen("open"), False),
        (e.OrderNotFound("404", status=404), False),
        (e.OutOfStock("409", status=409), False),
        (e.StoreValidationError("422", status=422), False),
        (e.StoreAuthError("401", status=401), False),
        (e.StoreProtocolError("bad body"), False),
        (ValueError("not ours"), False),
    ],
)
def test_what_is_retried(error: BaseException, retried: bool) -> None:
    assert should_retry(error) is retried


async def run_policy(policy: RetryPolicy, failures: list[BaseException]) -> int:
    """Run a call that raises `failures` in turn, then succeeds; return the attempts made."""
    attempts = 0
    async for attempt in policy.retrying({"method": "GET", "path": "/x", "request_id": "r"}):
        with attempt:
            attempts += 1
            if failures:
                raise failures.pop(0)
    return attempts


async def test_retry_after_replaces_the_backoff() -> None:
    policy = RetryPolicy(attempts=3, total_timeout_s=10, backoff_initial_s=0, backoff_max_s=0)
    started = time.monotonic()
    attempts = await run_policy(policy, [e.StoreRateLimited("429", status=429, retry_after=0.3)])
    assert attempts == 2
    assert time.monotonic() - started >= 0.3


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    policy = RetryPolicy(attempts=5, total_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(e.StoreRateLimited):
        await run_policy(policy, [e.StoreRateLimited("429", status=429, retry_after=60)])
    assert time.monotonic() - started < 0.5


async def test_non_retryable_errors_fail_on_the_first_attempt() -> None:
    policy = RetryPolicy(attempts=5, total_timeout_s=10, backoff_initial_s=0, backoff_max_s=0)
    with pytest.raises(e.OutOfStock):
        await run_policy(policy, [e.OutOfStock("gone", status=409)])


async def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(attempts=3, total_timeout_s=10, backoff_initial_s=0, backoff_max_s=0)
    failures: list[BaseException] = [e.StoreUnavailable(str(n), status=503) for n in range(5)]
    with pytest.raises(e.StoreUnavailable) as raised:
        await run_policy(policy, failures)
    assert raised.value.message == "2"  # the third attempt's error is the one raised
    assert len(failures) == 2


def test_deadline_clips_each_attempt_and_never_to_zero() -> None:
    assert Deadline.after(10).clip(5) == 5
    assert 0 < Deadline.after(1).clip(5) <= 1
    assert Deadline.after(-1).clip(5) == 0.001


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="total_timeout_s"):
        RetryPolicy(total_timeout_s=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff_initial_s=3, backoff_max_s=1)


def test_mask_phones_in_free_text() -> None:
    text = "звонок с +79161234567, перезвонить на 8 (903) 111-22-33; заказ 100245 на 259900"
    masked = mask_phones_in(text)
    assert "+7916***4567" in masked
    assert "8903***2233" in masked
    assert "1234567" not in masked and "111-22-33" not in masked
    assert "заказ 100245 на 259900" in masked


def test_request_id_of() -> None:
    assert request_id_of("wf-1:act.2") == "wf-1:act.2"
    assert request_id_of("call/42 step 3") == "call-42-step-3"
    assert len(request_id_of("x" * 500)) == 128
    generated = request_id_of(None)
    assert len(generated) == 32 and generated != request_id_of(None)


async def test_from_settings_uses_the_shared_breaker_and_the_settings() -> None:
    reset_breakers()
    settings = Settings(
        store_api_url="http://127.0.0.1:1/api/v1/",
        store_api_token="secret",
        store_api_timeout_s=2.0,
        store_api_retries=2,
        store_api_breaker_threshold=7,
        store_api_breaker_reset_s=11.0,
    )
    async with StoreApiClient.from_settings(settings) as client:
        assert client.base_url == "http://127.0.0.1:1/api/v1"
        assert client.timeout_s == 2.0
        assert client.retry_policy.attempts == 3
        assert client.retry_policy.total_timeout_s == 6.0
        assert client.breaker is breaker_for(
            "http://127.0.0.1:1/api/v1", threshold=1, reset_timeout_s=1
        )
        assert (client.breaker.threshold, client.breaker.reset_timeout_s) == (7, 11.0)
    reset_breakers()


async def test_connection_refused_is_unavailable() -> None:
    breaker = CircuitBreaker("refused", threshold=5, reset_timeout_s=30)
    async with StoreApiClient(
        "http://127.0.0.1:1/api/v1",
        "token",
        timeout_s=2,
        retry=RetryPolicy(attempts=2, backoff_initial_s=0, backoff_max_s=0),
        breaker=breaker,
    ) as client:
        with pytest.raises(e.StoreConnectionError) as raised:
            await client.search_products("гречка")
    assert raised.value.retryable and raised.value.status is None
    assert breaker.failure_count == 2  # both attempts counted


def test_a_token_is_required() -> None:
    with pytest.raises(ValueError, match="token"):
        StoreApiClient("http://127.0.0.1:1/api/v1", "")
