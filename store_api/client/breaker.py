"""One circuit breaker per Store API base URL and process, on top of purgatory.

Only outages count as failures: `StoreUnavailable` (5xx, timeouts, connection errors). A 4xx
business error, a 429 or an unreadable 200 is an answer from a live server, so it counts as
a success — purgatory's breakers count *consecutive* failures and every answer resets them.

Why 429 is not a failure: it is the server telling us, per token, when to come back; the retry
layer honours its Retry-After. Counting it would turn a rate limit into a whole-process outage
of `reset_timeout_s` for every call.

Known limits of purgatory 3 that we accept (documented rather than worked around):
- half-open lets every concurrent request through as a trial, not just one; the first failure
  re-opens the breaker, the first success closes it;
- a cancelled request (asyncio.CancelledError) is not an outage, and purgatory has no neutral
  outcome, so it counts as a success;
- time is wall-clock (`time.time()`), so a clock jump can shorten or lengthen the open period.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any

import structlog
from purgatory import AsyncCircuitBreakerFactory, ContextChanged
from purgatory.domain.model import Context, OpenedState

from store_api.client.errors import StoreBreakerOpen, StoreUnavailable

log = structlog.get_logger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_FROM_PURGATORY = {
    "closed": BreakerState.CLOSED,
    "opened": BreakerState.OPEN,
    "half-opened": BreakerState.HALF_OPEN,
}

StateListener = Callable[["CircuitBreaker", BreakerState], None]


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` is evidence that the Store API is down (and so counts for the breaker)."""
    return isinstance(exc, StoreUnavailable) and not isinstance(exc, StoreBreakerOpen)


class CircuitBreaker:
    """Opens after `threshold` consecutive outages; after `reset_timeout_s` lets trials through."""

    def __init__(self, name: str, *, threshold: int, reset_timeout_s: float) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {threshold}")
        if reset_timeout_s <= 0:
            raise ValueError(f"reset_timeout_s must be positive, got {reset_timeout_s}")
        self.name = name
        self.threshold = threshold
        self.reset_timeout_s = reset_timeout_s
        # purgatory treats an "excluded" exception as a successful call: exactly our rule.
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold,
            default_ttl=reset_timeout_s,
            exclude=[(BaseException, lambda exc: not is_outage(exc))],
        )
        self._factory.add_listener(self._on_event)
        self._listeners: list[StateListener] = []
        # purgatory creates its state object on first use; until then the breaker is closed.
        self._context: Context | None = None

    @property
    def state(self) -> BreakerState:
        """The state the next call meets: an open breaker past its reset timeout is half-open."""
        if self._context is None:
            return BreakerState.CLOSED
        state = _FROM_PURGATORY[self._context.state]
        if state is BreakerState.OPEN and self.seconds_until_half_open() == 0:
            return BreakerState.HALF_OPEN
        return state

    @property
    def failure_count(self) -> int:
        """Consecutive outages counted while closed (0 once it closes again)."""
        return (self._context.failure_count if self._context else None) or 0

    def seconds_until_half_open(self) -> float | None:
        """None unless open; then how long calls keep failing fast."""
        ctx = self._context
        if ctx is None or ctx.state != "opened" or ctx.opened_at is None:
            return None
        return max(0.0, ctx.opened_at + self.reset_timeout_s - time.time())

    def on_state_change(self, listener: StateListener) -> None:
        """Call `listener(breaker, new_state)` on every transition (metrics, tests)."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run one request under the breaker; raises StoreBreakerOpen instead when open."""
        breaker = await self._factory.get_breaker(self.name)
        self._context = breaker.context
        try:
            async with breaker:
                yield
        except OpenedState:
            wait = self.seconds_until_half_open()
            raise StoreBreakerOpen(
                f"Circuit breaker for {self.name} is open after {self.threshold} consecutive "
                f"failures; failing fast"
                + (f" for another {wait:.1f} s" if wait is not None else ""),
                retry_after=wait,
            ) from None

    def _on_event(self, name: str, kind: str, event: Any) -> None:
        # purgatory delivers events when a guarded call ends, in the order they happened.
        if kind != "state_changed" or not isinstance(event, ContextChanged):
            return
        state = _FROM_PURGATORY[event.state]
        level = log.warning if state is BreakerState.OPEN else log.info
        level(
            "store_api_breaker_state",
            breaker=self.name,
            state=state.value,
            threshold=self.threshold,
            reset_timeout_s=self.reset_timeout_s,
        )
        for listener in self._listeners:
            listener(self, state)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} state={self.state.value}>"


_registry: dict[str, CircuitBreaker] = {}


def breaker_for(base_url: str, *, threshold: int, reset_timeout_s: float) -> CircuitBreaker:
    """The process-wide breaker of `base_url`; the first caller's settings win."""
    key = base_url.rstrip("/")
    breaker = _registry.get(key)
    if breaker is None:
        breaker = _registry[key] = CircuitBreaker(
            key, threshold=threshold, reset_timeout_s=reset_timeout_s
        )
    return breaker


def all_breakers() -> list[CircuitBreaker]:
    """Every breaker of this process, for metrics and health pages."""
    return list(_registry.values())


def reset_breakers() -> None:
    """Forget every shared breaker (tests; a process restart does the same)."""
    _registry.clear()
