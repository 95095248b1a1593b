"""The breaker on its own: what counts as a failure, and the closed → open → half-open cycle.

The end-to-end behaviour against the real server is in test_resilience.py; here the guarded
"request" is a plain coroutine so each transition can be driven exactly.
"""

from __future__ import annotations

import asyncio

import pytest

from store_api.client import errors as e
from store_api.client.breaker import (
    BreakerState,
    CircuitBreaker,
    all_breakers,
    breaker_for,
    is_outage,
    reset_breakers,
)

RESET_S = 0.2


async def run(breaker: CircuitBreaker, outcome: BaseException | None = None) -> bool:
    """Run one guarded call that ends with `outcome`; True if its body ran at all."""
    ran = False
    try:
        async with breaker.guard():
            ran = True
            if outcome is not None:
                raise outcome
    except e.StoreApiError:
        pass
    return ran


def state(breaker: CircuitBreaker) -> BreakerState:
    # A function call, so mypy does not narrow the property across awaits.
    return breaker.state


def outage() -> e.StoreUnavailable:
    return e.StoreUnavailable("503", status=503)


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("test", threshold=3, reset_timeout_s=RESET_S)


def test_only_outages_count() -> None:
    assert is_outage(outage())
    assert is_outage(e.StoreTimeout("slow"))
    assert is_outage(e.StoreConnectionError("refused"))
    assert not is_outage(e.StoreBreakerOpen("open"))
    assert not is_outage(e.OrderNotFound("nope", status=404))
    assert not is_outage(e.StoreRateLimited("slow down", status=429))
    assert not is_outage(asyncio.CancelledError())


async def test_opens_after_threshold_consecutive_outages(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        await run(breaker, outage())
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.failure_count == 2
    await run(breaker, outage())
    assert state(breaker) is BreakerState.OPEN

    with pytest.raises(e.StoreBreakerOpen) as raised:
        async with breaker.guard():
            pytest.fail("an open breaker must not run the request")
    assert raised.value.breaker_open
    assert "open" in str(raised.value)
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= RESET_S


async def test_business_errors_never_open_it_and_reset_the_count(breaker: CircuitBreaker) -> None:
    for _ in range(10):
        await run(breaker, e.OrderNotFound("nope", status=404))
        await run(breaker, e.StoreRateLimited("later", status=429))
    assert state(breaker) is BreakerState.CLOSED
    await run(breaker, outage())
    await run(breaker, outage())
    await run(breaker, e.OutOfStock("gone", status=409))
    assert breaker.failure_count == 0
    await run(breaker, outage())
    await run(breaker, outage())
    assert state(breaker) is BreakerState.CLOSED


async def test_half_open_success_closes(breaker: CircuitBreaker) -> None:
    seen: list[BreakerState] = []
    breaker.on_state_change(lambda _, state: seen.append(state))
    for _ in range(3):
        await run(breaker, outage())
    assert not await run(breaker)  # fails fast
    await asyncio.sleep(RESET_S * 1.5)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert await run(breaker)  # the trial request runs and succeeds
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.failure_count == 0
    assert seen == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


async def test_half_open_failure_reopens(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        await run(breaker, outage())
    await asyncio.sleep(RESET_S * 1.5)
    assert await run(breaker, outage())  # the trial runs, and fails
    assert state(breaker) is BreakerState.OPEN
    assert not await run(breaker)


async def test_a_4xx_in_half_open_proves_the_server_is_up(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        await run(breaker, outage())
    await asyncio.sleep(RESET_S * 1.5)
    assert await run(breaker, e.OrderNotFound("nope", status=404))
    assert state(breaker) is BreakerState.CLOSED


def test_one_shared_breaker_per_base_url() -> None:
    reset_breakers()
    a = breaker_for("http://store/api/v1", threshold=5, reset_timeout_s=30)
    assert breaker_for("http://store/api/v1/", threshold=1, reset_timeout_s=1) is a
    assert a.threshold == 5  # the first caller's settings win
    b = breaker_for("http://other/api/v1", threshold=5, reset_timeout_s=30)
    assert b is not a
    assert set(all_breakers()) == {a, b}
    reset_breakers()
    assert breaker_for("http://store/api/v1", threshold=5, reset_timeout_s=30) is not a
    reset_breakers()


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker("x", threshold=0, reset_timeout_s=1)
    with pytest.raises(ValueError, match="reset_timeout_s"):
        CircuitBreaker("x", threshold=1, reset_timeout_s=0)
