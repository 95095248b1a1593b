"""When and how the client repeats a request (tenacity): bounded in attempts and in time.

Only `StoreApiError.retryable` errors are repeated — 5xx, timeouts, connection errors, 429 and
409 IDEMPOTENCY_KEY_IN_PROGRESS — and never an open breaker: failing fast is its whole point,
and the caller (a Temporal activity) retries later on its own schedule.

Waits are "full jitter" exponential backoff (AWS architecture blog), so callers that failed
together do not come back together; a Retry-After from the server replaces the backoff. No
attempt starts, and no wait is begun, that would end past the total budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from store_api.client.errors import StoreApiError, StoreBreakerOpen

log = structlog.get_logger(__name__)


def should_retry(exc: BaseException) -> bool:
    return (
        isinstance(exc, StoreApiError) and exc.retryable and not isinstance(exc, StoreBreakerOpen)
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` counts the first try; `total_timeout_s` bounds the whole call, waits included."""

    attempts: int = 4
    total_timeout_s: float = 20.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.total_timeout_s <= 0:
            raise ValueError(f"total_timeout_s must be positive, got {self.total_timeout_s}")
        if not 0 <= self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("need 0 <= backoff_initial_s <= backoff_max_s")

    def retrying(self, log_fields: Mapping[str, Any]) -> AsyncRetrying:
        """A fresh tenacity loop for one call; `log_fields` go on every retry log line."""
        backoff = wait_random_exponential(multiplier=self.backoff_initial_s, max=self.backoff_max_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, StoreApiError) and exc.retry_after is not None:
                # The server said when; a little jitter keeps a crowd from returning at once.
                return exc.retry_after + random.uniform(0, self.backoff_initial_s)
            return backoff(state)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "store_api_retry",
                **log_fields,
                attempt=state.attempt_number,
                max_attempts=self.attempts,
                wait_s=round(state.upcoming_sleep, 3),
                error=getattr(exc, "code", type(exc).__name__),
                status=getattr(exc, "status", None),
            )

        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.total_timeout_s),
            wait=wait,
            retry=retry_if_exception(should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )


@dataclass(slots=True)
class Deadline:
    """The end of a call's time budget, to cut each attempt's timeout to what is left."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def clip(self, timeout_s: float) -> float:
        # Never zero: httpx treats 0 as "fail at once", which would hide the real error.
        return max(0.001, min(timeout_s, self.at - time.monotonic()))
