"""SEC4: a caller who says a phone number where the order number belongs (issue 12: the worker
logged `order_number=89161234567`) leaves no full number in any log line of the worker or
in any step summary the Temporal Web UI shows; the audit keeps what was asked, in full."""

from __future__ import annotations

import logging

import pytest
import structlog

from core.logging import library_level
from store_api.seed.personas import ONE_ACTIVE
from tests.support.fake_llm import Reply
from tests.workflows.conftest import Calls

SAID = "89161234567"  # Анна Смирнова's number, said as an "order number"


async def test_a_phone_said_as_an_order_number_is_never_logged_in_full(
    calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        call = await calls.start(
            ONE_ACTIVE.phone,
            [Reply.tool("get_order_status", {"order_number": SAID}), Reply.text("Не нашла.")],
        )
        await call.say(
            "Заказ восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь"
        )
        await call.hang_up()
        await call.result()

    # Every line the worker prints even at LOG_LEVEL=DEBUG (core/logging.py's floors apply).
    printed = [r for r in caplog.records if r.levelno >= library_level(r.name, logging.DEBUG)]
    lines = repr(logs) + "\n".join(r.getMessage() for r in printed)
    assert SAID[1:] not in lines
    assert ONE_ACTIVE.phone.lstrip("+") not in lines
    assert any(line.get("order_number") == "8916***4567" for line in logs), "masked, not dropped"

    history = await call.handle.fetch_history()
    summaries = [
        event.user_metadata.summary.data.decode()
        for event in history.events
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
    ]
    assert any("№8916***4567" in s for s in summaries), summaries
    assert not [s for s in summaries if SAID[1:] in s or ONE_ACTIVE.phone[1:] in s]

    [row] = await calls.fetch(
        "SELECT order_number FROM bot.order_audit WHERE call_id = $1"
        " AND event = 'order_lookup_denied'",
        call.call_id,
    )
    assert row["order_number"] == SAID
