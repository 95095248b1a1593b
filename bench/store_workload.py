"""B5's load on the Store API: clients that create a draft, set its delivery and confirm it,
some of them resending a request with the same Idempotency-Key.

A resend is either
- **lost response**: the client waits up to `LOST_RESPONSE_TIMEOUT_S` for an answer that
  never reaches it (dropped on the way back, or not sent yet), closes the connection and
  sends the same request again — it lands while the first is still in flight (409
  IDEMPOTENCY_KEY_IN_PROGRESS) or after it committed (a replay);
- **concurrent**: two copies of the request go out at once, as two workers retrying the
  same activity would send them.
A 409 IDEMPOTENCY_KEY_IN_PROGRESS is resent after 10–50 ms until the stored answer comes
back. The product's client waits for the server's `Retry-After: 1` instead; here the point
is to press the server while the first request is still running, and to measure the
server, not a one-second client back-off.

The load generator is aiohttp's client (not httpx, which the product's client uses): it
costs less CPU per request, and on a 2-core box every cycle the client spends is one the
server does not get.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from store_api.contract import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, ErrorCode

LOST_RESPONSE_TIMEOUT_S = 0.04
IN_PROGRESS_BACKOFF_S = (0.01, 0.05)
GIVE_UP_AFTER_S = 30.0  # one operation, resends included: a bound, not an expected time
COURIER = {"type": "courier", "address": {"city": "Москва", "street": "Тверская", "house": "7"}}

Resend = Literal["lost_response", "concurrent"]


class GaveUp(RuntimeError):
    """An operation never got a final answer (the server kept saying "in progress")."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    replayed: bool

    @property
    def code(self) -> str | None:
        if self.status < 400:
            return None
        try:
            return str(json.loads(self.body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def in_progress(self) -> bool:
        return self.status == 409 and self.code == ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS.value

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Tally:
    """What the clients saw, over one phase."""

    requests: int = 0
    replays: int = 0  # answers with Idempotent-Replayed: true
    in_progress_409: int = 0
    lost_responses: int = 0  # first attempts whose answer the client never used
    concurrent_resends: int = 0  # operations sent twice at once
    # Answers to one key that differ (a replay must be byte for byte the first answer).
    inconsistent_answers: int = 0
    failed_orders: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)  # "create 409 OUT_OF_STOCK": n


@dataclass
class Timings:
    """Milliseconds. Per operation: only operations sent once, so a resend's deliberate
    client timeout is not mistaken for server time; whole orders: both kinds."""

    create: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    confirm: list[float] = field(default_factory=list)
    order: list[float] = field(default_factory=list)
    order_resent: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    """What orders are made of: products with ample stock (an order never hits
    OUT_OF_STOCK, which would be the catalogue's limit, not the server's)."""

    product_ids: tuple[str, ...]


class StoreClient:
    """One simulated client (an activity worker, say): its own connection pool."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, tally: Tally) -> None:
        self._session = session
        self._base = base_url
        self._tally = tally

    async def send(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> Answer:
        headers = {IDEMPOTENCY_KEY_HEADER: key} if key is not None else {}
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self._session.request(
            method, self._base + path, data=data, headers=headers
        ) as response:
            answer = Answer(
                response.status,
                await response.read(),
                response.headers.get(REPLAYED_HEADER) == "true",
            )
        self._tally.requests += 1
        self._tally.replays += answer.replayed
        return answer

    async def _until_answered(self, path: str, body: Any, key: str) -> Answer:
        """POST, resent while the server says the first request with the key still runs."""
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        while True:
            answer = await self.send("POST", path, body, key)
            if not answer.in_progress:
                return answer
            self._tally.in_progress_409 += 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{path} with key {key} still in progress after {GIVE_UP_AFTER_S} s")
            await asyncio.sleep(random.uniform(*IN_PROGRESS_BACKOFF_S))

    async def post_keyed(
        self, path: str, body: Any, key: str, resend: Resend | None, rng: random.Random
    ) -> Answer:
        answers: list[Answer] = []
        if resend is None:
            answers.append(await self._until_answered(path, body, key))
        elif resend == "lost_response":
            first = asyncio.create_task(self.send("POST", path, body, key))
            await asyncio.sleep(rng.uniform(0, LOST_RESPONSE_TIMEOUT_S))
            if first.done() and first.exception() is None:
                answers.append(first.result())  # it came, but the client never got it
            else:
                first.cancel()  # closes the connection, as a client timeout does
                await asyncio.gather(first, return_exceptions=True)
            self._tally.lost_responses += 1
            answers.append(await self._until_answered(path, body, key))
        else:
            self._tally.concurrent_resends += 1
            answers += await asyncio.gather(
                *(self._until_answered(path, body, key) for _ in range(2))
            )
        final = {(a.status, a.body) for a in answers if not a.in_progress}
        self._tally.inconsistent_answers += len(final) > 1
        return answers[-1]


async def _timed(samples: list[float], action: Awaitable[Answer]) -> Answer:
    started = time.perf_counter()
    answer = await action
    samples.append((time.perf_counter() - started) * 1000)
    return answer


def _expect(tally: Tally, what: str, answer: Answer, status: int) -> bool:
    if answer.status == status:
        return True
    tally.unexpected[f"{what} {answer.status} {answer.code}"] += 1
    return False


def _pick_resend(rng: random.Random, retry_rate: float) -> Resend | None:
    if rng.random() >= retry_rate:
        return None
    return "lost_response" if rng.random() < 0.5 else "concurrent"


async def place_order(
    client: StoreClient,
    ref: str,
    phone: str,
    catalogue: Catalogue,
    rng: random.Random,
    retry_rate: float,
    tally: Tally,
    timings: Timings,
) -> None:
    """One order: draft → delivery → confirm. `ref` names it (the order's call_id; its
    keys are `ref:create` and `ref:confirm`), so the database can be asked about it."""
    started = time.perf_counter()
    resends = (_pick_resend(rng, retry_rate), _pick_resend(rng, retry_rate))
    draft = {
        "customer": {"phone": phone, "name": "Нагрузочный тест"},
        "items": [
            {"product_id": product_id, "quantity": rng.randint(1, 3)}
            for product_id in rng.sample(catalogue.product_ids, 2)
        ],
        "channel": "voice",
        "call_id": ref,
    }
    created = client.post_keyed("/orders", draft, f"{ref}:create", resends[0], rng)
    answer = await (_timed(timings.create, created) if resends[0] is None else created)
    if not _expect(tally, "create", answer, 201):
        tally.failed_orders += 1
        return
    order_id = answer.json()["id"]
    answer = await _timed(
        timings.delivery, client.send("PATCH", f"/orders/{order_id}/delivery", COURIER)
    )
    if not _expect(tally, "delivery", answer, 200):
        tally.failed_orders += 1
        return
    body = {"expected_total": answer.json()["total"]}
    confirmed = client.post_keyed(
        f"/orders/{order_id}/confirm", body, f"{ref}:confirm", resends[1], rng
    )
    answer = await (_timed(timings.confirm, confirmed) if resends[1] is None else confirmed)
    if not _expect(tally, "confirm", answer, 200) or answer.json()["status"] != "confirmed":
        tally.failed_orders += 1
        return
    elapsed = (time.perf_counter() - started) * 1000
    (timings.order if resends == (None, None) else timings.order_resent).append(elapsed)


def client_session(token: str) -> aiohttp.ClientSession:
    # Each client may have two requests out at once (a concurrent resend) plus one it is
    # abandoning; no pool limit is the bottleneck.
    return aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {token}"},
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=GIVE_UP_AFTER_S),
    )


async def run_clients(
    clients: int, total: int, work: Callable[[int, int], Awaitable[None]]
) -> float:
    """`clients` loops sharing `total` work items: work(client, item). Returns the seconds
    from the first start to the last finish."""
    items = itertools.count()

    async def loop(client: int) -> None:
        while (item := next(items)) < total:
            await work(client, item)

    started = time.perf_counter()
    await asyncio.gather(*(loop(client) for client in range(clients)))
    return time.perf_counter() - started


async def orders_phase(
    base_url: str,
    token: str,
    catalogue: Catalogue,
    prefix: str,
    clients: int,
    orders: int,
    retry_rate: float,
) -> tuple[Tally, Timings, float, list[str]]:
    """`orders` orders by `clients` concurrent clients; returns what they saw, the wall time
    and the refs of the orders they placed."""
    tally, timings, refs = Tally(), Timings(), []
    async with client_session(token) as session:
        store = StoreClient(session, base_url, tally)
        rngs = [random.Random(f"{prefix}-{client}") for client in range(clients)]

        async def work(client: int, item: int) -> None:
            ref = f"{prefix}-{item:06d}"
            refs.append(ref)
            # One phone per client: customers are upserted by phone, and a shared one would
            # serialise unrelated clients on its row.
            phone = f"+7985{client:07d}"
            try:
                await place_order(
                    store, ref, phone, catalogue, rngs[client], retry_rate, tally, timings
                )
            except (aiohttp.ClientError, TimeoutError, GaveUp) as exc:
                tally.unexpected[type(exc).__name__] += 1
                tally.failed_orders += 1

        wall = await run_clients(clients, orders, work)
    return tally, timings, wall, refs


async def health_phase(
    base_url: str, token: str, clients: int, requests: int
) -> tuple[list[float], float]:
    """The floor: the same clients sending `GET /health` (HTTP, auth-free routing, one
    `SELECT 1` on the pool) as fast as they can."""
    samples: list[float] = []
    async with client_session(token) as session:
        store = StoreClient(session, base_url, Tally())

        async def work(_: int, __: int) -> None:
            answer = await _timed(samples, store.send("GET", "/health"))
            if answer.status != 200:
                raise RuntimeError(f"GET /health answered {answer.status}")

        wall = await run_clients(clients, requests, work)
    return samples, wall
