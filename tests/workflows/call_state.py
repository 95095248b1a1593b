"""What a test reads of a running call's workflow between turns."""

from __future__ import annotations

import asyncio

from core.vocabulary import Stage
from workflows.client import CallSession
from workflows.models import STATE_QUERY
from workflows.state import CallState


async def stage_reached(call: CallSession, stage: Stage, within_s: float = 30.0) -> None:
    """Waits until the call's workflow reports `stage`: for what moves it between turns (the
    SMS after a confirmation), so the next turn's stage does not depend on which came first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while (state := await call.handle.query(STATE_QUERY, result_type=CallState)).stage != stage:
        assert loop.time() < deadline, f"still {state.stage}, not {stage}"
        await asyncio.sleep(0.05)
