"""Retries, the circuit breaker and timeouts, through faults injected into the real server.

Time bounds here are deliberately loose (loaded 2-core machines): they tell "failed fast"
from "waited for a timeout", never measure precise durations.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from store_api.client import (
    BreakerState,
    CircuitBreaker,
    CustomerNotFound,
    OrderNotFound,
    RetryPolicy,
    StoreApiClient,
    StoreBreakerOpen,
    StoreTimeout,
    StoreUnavailable,
)
from store_api.contract import OrderStatus, PickupDeliveryIn
from store_api.seed.personas import MANY_ACTIVE
from tests.store_api.client.helpers import (
    FAST_BACKOFF,
    MakeClient,
    draft_request,
    fresh_phone,
    in_stock,
    new_key,
)
from tests.support.servers import StoreApiServer, store_api_server

RESET_S = 1.0  # long enough that a stalled test process does not see it half-open too soon


async def wait_for_state(client: StoreApiClient, state: BreakerState, within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while client.breaker.state is not state:
        assert time.monotonic() < deadline, f"breaker still {client.breaker.state}"
        await asyncio.sleep(0.05)


def retried(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "store_api_retry"]


# --- retries ------------------------------------------------------------------------------


async def test_reads_retry_through_intermittent_errors(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=20)
    product = await in_stock(client)
    await store_api_clean_faults.set_faults(error_rate=0.5, path_glob="/products*")
    with capture_logs() as logs:
        for _ in range(40):  # until some attempt has failed: ~2 calls at a 50 % error rate
            assert (await client.get_product(product.id)).id == product.id
            if retried(logs):
                break
    retries = retried(logs)
    assert retries
    assert all(entry["error"] == "SERVICE_UNAVAILABLE" for entry in retries)
    assert all(entry["path"] == f"/products/{product.id}" for entry in retries)


async def test_gives_up_after_the_attempts(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=3)
    await store_api_clean_faults.set_faults(error_rate=1.0, path_glob="/products*")
    with capture_logs() as logs, pytest.raises(StoreUnavailable) as raised:
        await client.search_products("гречка")
    assert raised.value.status == 503
    assert raised.value.retryable and not raised.value.breaker_open
    assert [entry["attempt"] for entry in retried(logs)] == [1, 2]
    [gave_up] = [entry for entry in logs if entry["event"] == "store_api_gave_up"]
    assert (gave_up["error"], gave_up["status"], gave_up["path"]) == (
        "SERVICE_UNAVAILABLE",
        503,
        "/products/search",
    )


async def test_retry_logs_never_hold_the_phone_number(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=20)
    await store_api_clean_faults.set_faults(error_rate=0.5, path_glob="/customers*")
    with capture_logs() as logs:
        for _ in range(40):
            assert (await client.lookup_customer(MANY_ACTIVE.phone)).phone == MANY_ACTIVE.phone
            if retried(logs):
                break
    assert retried(logs)
    assert MANY_ACTIVE.phone[1:] not in repr(logs)


async def test_idempotent_create_retries_through_errors_into_one_order(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=20)
    request = await draft_request(client)
    await store_api_clean_faults.set_faults(error_rate=0.5, path_glob="/orders*")
    key = new_key()
    results = [await client.create_order(request, idempotency_key=key) for _ in range(4)]
    await store_api_clean_faults.clear_faults()
    assert len({r.order.id for r in results}) == 1
    orders = await client.search_orders(phone=request.customer.phone)
    assert [o.id for o in orders] == [results[0].order.id]


async def test_a_write_lost_before_commit_is_redone_with_the_same_key(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=2)
    request = await draft_request(client)
    key = new_key()
    await store_api_clean_faults.set_faults(fail_before_commit=True, path_glob="/orders")
    with pytest.raises(StoreUnavailable):
        await client.create_order(request, idempotency_key=key)
    assert await client.search_orders(phone=request.customer.phone) == []

    await store_api_clean_faults.clear_faults()
    created = await client.create_order(request, idempotency_key=key)
    assert not created.replayed  # nothing was stored the first time
    assert [o.id for o in await client.search_orders(phone=request.customer.phone)] == [
        created.order.id
    ]


async def test_delivery_patch_is_retried(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=20)
    created = await client.create_order(await draft_request(client), idempotency_key=new_key())
    [point, *_] = await client.pickup_points(city="Москва")
    await store_api_clean_faults.set_faults(error_rate=0.5, path_glob="/orders/*/delivery")
    for _ in range(4):
        order = await client.set_delivery(
            created.order.id, PickupDeliveryIn(type="pickup", pickup_point_id=point.id)
        )
        assert order.status is OrderStatus.DRAFT and order.delivery is not None


# --- timeouts -------------------------------------------------------------------------------


async def test_slow_server_is_a_timeout(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(timeout_s=0.3, attempts=2, total_timeout_s=30)
    await store_api_clean_faults.set_faults(latency_ms=3000, path_glob="/products*")
    started = time.monotonic()
    with pytest.raises(StoreTimeout) as raised:
        await client.search_products("гречка")
    assert time.monotonic() - started < 2.9  # two short attempts, not one slow answer
    assert isinstance(raised.value, StoreUnavailable) and raised.value.retryable
    assert raised.value.status is None
    assert "no answer within" in str(raised.value)


async def test_total_time_is_bounded_even_with_many_attempts(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(timeout_s=0.5, attempts=100, total_timeout_s=1.0)
    await store_api_clean_faults.set_faults(latency_ms=5000, path_glob="/products*")
    started = time.monotonic()
    with pytest.raises(StoreTimeout):
        await client.search_products("гречка")
    assert time.monotonic() - started < 4.5  # the server would take 5 s for one answer


async def test_the_last_attempt_gets_only_what_is_left_of_the_budget(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    """The second attempt's timeout is cut to the ~0.5 s left, not the full 1 s per attempt."""
    client = make_client(timeout_s=1.0, attempts=2, total_timeout_s=1.5)
    await store_api_clean_faults.set_faults(latency_ms=5000, path_glob="/products*")
    with pytest.raises(StoreTimeout) as raised:
        await client.search_products("гречка")
    waited = re.search(r"no answer within ([0-9.]+) s", str(raised.value))
    assert waited is not None, str(raised.value)
    assert float(waited.group(1)) < 1.0


async def test_a_timed_out_create_resolves_with_its_key(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    """After a timeout the outcome is unknown; the same key finds out without a second order."""
    client = make_client(timeout_s=0.3, attempts=1)
    request = await draft_request(client)
    key = new_key()
    await store_api_clean_faults.set_faults(latency_ms=1000, path_glob="/orders")
    with pytest.raises(StoreTimeout):
        await client.create_order(request, idempotency_key=key)
    await store_api_clean_faults.clear_faults()
    patient = make_client(attempts=20)
    result = await patient.create_order(request, idempotency_key=key)
    await asyncio.sleep(1.5)  # let a still-running first request finish, if the server kept it
    orders = await patient.search_orders(phone=request.customer.phone)
    assert [o.id for o in orders] == [result.order.id]


# --- the circuit breaker --------------------------------------------------------------------


async def open_breaker(client: StoreApiClient, server: StoreApiServer, product_id: str) -> None:
    await server.set_faults(error_rate=1.0, path_glob="/products*")
    for _ in range(client.breaker.threshold):
        with pytest.raises(StoreUnavailable) as raised:
            await client.get_product(product_id)
        assert not raised.value.breaker_open  # these reached the server
    # Open now (not "open but past its reset timeout", which reads as half-open).
    assert client.breaker.seconds_until_half_open() is not None


async def test_breaker_opens_then_fails_fast_without_calling_the_server(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=1, threshold=3, reset_s=30)
    product = await in_stock(client)
    await open_breaker(client, store_api_clean_faults, product.id)

    # The server is healthy again, so any call that reached it would succeed.
    await store_api_clean_faults.clear_faults()
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(StoreBreakerOpen) as raised:
            await client.get_product(product.id)
    assert time.monotonic() - started < 1.0
    assert raised.value.breaker_open and raised.value.retryable
    assert raised.value.code == "CIRCUIT_OPEN"
    assert raised.value.retry_after is not None and raised.value.retry_after > 10


async def test_breaker_open_is_not_retried(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=5, threshold=2, reset_s=30)
    product = await in_stock(client)
    await store_api_clean_faults.set_faults(error_rate=1.0, path_glob="/products*")
    with capture_logs() as logs, pytest.raises(StoreBreakerOpen):
        # attempts 1 and 2 reach the server and open the breaker; attempt 3 fails fast.
        await client.get_product(product.id)
    assert [entry["attempt"] for entry in retried(logs)] == [1, 2]


async def test_breaker_half_opens_and_a_success_closes_it(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=1, threshold=2, reset_s=RESET_S)
    product = await in_stock(client)
    await open_breaker(client, store_api_clean_faults, product.id)
    await store_api_clean_faults.clear_faults()

    await wait_for_state(client, BreakerState.HALF_OPEN)
    assert (await client.get_product(product.id)).id == product.id
    assert client.breaker.state is BreakerState.CLOSED
    assert client.breaker.failure_count == 0


async def test_breaker_reopens_when_the_half_open_trial_fails(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=1, threshold=2, reset_s=RESET_S)
    product = await in_stock(client)
    await open_breaker(client, store_api_clean_faults, product.id)

    await wait_for_state(client, BreakerState.HALF_OPEN)
    with pytest.raises(StoreUnavailable) as trial:
        await client.get_product(product.id)
    assert not trial.value.breaker_open  # the trial reached the (still failing) server
    assert client.breaker.state is BreakerState.OPEN
    with pytest.raises(StoreBreakerOpen):
        await client.get_product(product.id)


async def test_timeouts_open_the_breaker(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(timeout_s=0.2, attempts=1, threshold=2, reset_s=30)
    await store_api_clean_faults.set_faults(latency_ms=2000, path_glob="/pickup-points*")
    for _ in range(2):
        with pytest.raises(StoreTimeout):
            await client.pickup_points(city="Москва")
    assert client.breaker.state is BreakerState.OPEN


async def test_business_errors_never_open_the_breaker(make_client: MakeClient) -> None:
    client = make_client(attempts=1, threshold=2, reset_s=30)
    for _ in range(5):
        with pytest.raises(OrderNotFound):
            await client.get_order(str(uuid.uuid4()))
        with pytest.raises(CustomerNotFound):
            await client.lookup_customer(fresh_phone())
    assert client.breaker.state is BreakerState.CLOSED
    assert client.breaker.failure_count == 0


async def test_health_bypasses_an_open_breaker(
    store_api_clean_faults: StoreApiServer, make_client: MakeClient
) -> None:
    client = make_client(attempts=1, threshold=1, reset_s=30)
    product = await in_stock(client)
    await open_breaker(client, store_api_clean_faults, product.id)
    assert (await client.health()).status == "ok"


# --- rate limiting ------------------------------------------------------------------------


@pytest.mark.slow
async def test_rate_limit_is_waited_out_and_never_opens_the_breaker(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second server on the session's database, with the rate limit on (2 rps, burst 4)."""
    monkeypatch.setenv("STORE_API_RATE_LIMIT_RPS", "2")
    async with (
        store_api_server(database_url) as limited,
        StoreApiClient(
            limited.base_url,
            limited.token,
            timeout_s=15,
            retry=RetryPolicy(attempts=10, total_timeout_s=60, **FAST_BACKOFF),
            breaker=CircuitBreaker("rate-limited", threshold=1, reset_timeout_s=30),
        ) as client,
    ):
        with capture_logs() as logs:
            for _ in range(8):
                assert await client.search_products("гречка")
        waits = [(entry["error"], entry["wait_s"]) for entry in retried(logs)]
        assert waits, "8 requests at once must exceed a burst of 4"
        # Retry-After (whole seconds) replaces the 10–50 ms backoff.
        assert all(error == "RATE_LIMITED" and wait >= 1.0 for error, wait in waits)
        assert client.breaker.state is BreakerState.CLOSED
