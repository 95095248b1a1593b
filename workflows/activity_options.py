"""How the call workflow runs its activities: timeouts and retries per kind of step, and
the failures it expects back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, NotRequired, TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from core.vocabulary import ErrorType

A = TypeVar("A")
R = TypeVar("R")


# Short Store API calls while the caller waits: local activities (one server round trip
# fewer per call, see docs/call-workflow.md "Turn latency"); the client retries inside.
class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    schedule_to_close_timeout: NotRequired[timedelta]


IN_CALL = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=200)),
)
AGENT = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        maximum_attempts=2,
        initial_interval=timedelta(milliseconds=300),
        non_retryable_error_types=[ErrorType.LLM_NOT_CONFIGURED, ErrorType.LLM_BAD_REQUEST],
    ),
)
# Work that must finish however long an outage lasts (post-call, audit, SMS).
DURABLE = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    schedule_to_close_timeout=timedelta(days=3),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
)
# One round of a step retried for as long as an outage lasts: a single attempt (the Store
# API client retries inside it); the workflow itself waits between rounds, on timers, so it
# can show progress ("round 7"), raise Attention, and be fast-forwarded in tests.
ROUND = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    retry_policy=RetryPolicy(maximum_attempts=1),
)
ROUND_PAUSE_MAX = timedelta(minutes=10)


def round_pause(rounds: int) -> timedelta:
    """2 s, 4 s, 8 s, … up to ten minutes between rounds."""
    return min(ROUND_PAUSE_MAX, timedelta(seconds=2 ** min(rounds, 10)))


# A regular activity fails with ActivityError (cause inside); a local one can surface its
# ApplicationError or timeout directly.
ACTIVITY_FAILED = (ActivityError, ApplicationError, ActivityTimeout)


def error_type(exc: BaseException) -> str:
    """The failure's type name: an `ErrorType` value for every failure we raise ourselves."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    return type(cause).__name__


def error_details(exc: BaseException) -> dict[str, Any]:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict):
            return detail
    return {}


class Rounds:
    """The pause between rounds of a step retried for as long as an outage lasts (a postponed
    confirmation, an SMS); an operator's "retry now" cuts the current pause short."""

    def __init__(self) -> None:
        self._wake = False

    def wake(self) -> None:
        self._wake = True

    async def pause(self, duration: timedelta) -> None:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._wake, timeout=duration)
        self._wake = False


async def in_call(activity: Callable[[Any, A], Awaitable[R]], arg: A, *, summary: str) -> R:
    """A short Store API step while the caller waits: a local activity (IN_CALL)."""
    return await workflow.execute_local_activity_method(activity, arg, summary=summary, **IN_CALL)
