"""What a tool call produces: a result for the agent, and maybe words the bot says itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.vocabulary import Action, ErrorType
    from workflows.state import CallState

from workflows.activity_options import error_details, error_type


@dataclass
class ToolOutcome:
    payload: dict[str, Any]
    error: bool = False
    denied: bool = False
    speech: list[str] | None = None
    action: Action = Action.CONTINUE
    ends_turn: bool = False  # the bot's own words answer the turn; the agent is not asked again


def store_error(s: CallState, exc: BaseException, what: str) -> ToolOutcome:
    """A failed Store API step as the agent sees it; `code` is the Store API's error code
    when it answered, `StoreUnavailable` when it did not."""
    kind = error_type(exc)
    s.last_error = kind
    if kind == ErrorType.STORE_UNAVAILABLE:
        return ToolOutcome(
            {
                "error": "Сервис магазина недоступен. Извинитесь и предложите оператора.",
                "code": kind,
            },
            error=True,
        )
    details = error_details(exc)
    return ToolOutcome({"error": f"{what}: {kind}", "code": kind, **details}, error=True)
