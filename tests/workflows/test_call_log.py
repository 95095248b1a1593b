"""The call log of a call: every turn reaches bot.call_turns, a few turns per write."""

from __future__ import annotations

import asyncio

from core.vocabulary import AgentMode
from store_api.seed.personas import NO_ORDERS
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from workflows.records import TURNS_PER_WRITE

LINES = ["Хочу заказать гречку", "Повторите", "Одну", "Повторите", "Всё", "Курьером", "Повторите"]


async def logged_turns(calls: Calls, call_id: str) -> list[int]:
    rows = await calls.fetch(
        "SELECT turn_no FROM bot.call_turns WHERE call_id = $1 ORDER BY turn_no", call_id
    )
    return [row["turn_no"] for row in rows]


async def test_every_turn_is_logged_a_few_turns_per_write(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, agent=AgentMode.GUIDED)
    for line in LINES:
        await call.say(line)
    # A live call's log trails by fewer than TURNS_PER_WRITE turns.
    written = list(range(1, TURNS_PER_WRITE + 1))
    async with asyncio.timeout(30):
        while await logged_turns(calls, call.call_id) != written:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await call.hang_up()
    await call.result()
    assert await logged_turns(calls, call.call_id) == list(range(1, len(LINES) + 1))

    history = await call.handle.fetch_history()
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("record_turns") == 2, scheduled  # turns 1–5, then 6–7 at the end
    assert "record_turn" not in scheduled
    await keep_history(call, "guided_call_log_batched")
