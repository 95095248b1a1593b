"""Recorded histories: every scenario test can leave its workflow history in tests/histories/.

Set RECORD_HISTORIES=1 to (re)write them; test_replay.py replays every file there, so a
workflow change that would break running calls fails CI. They are written as the server
stores them: payloads encrypted with the committed test key (tests/support/payload_keys.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from workflows.client import CallSession

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def keep_history(call: CallSession | WorkflowHandle[Any, Any], name: str) -> None:
    """The call's history as the server stores it (payloads encrypted with the test key)."""
    handle = call.handle if isinstance(call, CallSession) else call
    history = await handle.fetch_history()
    assert history.events, "a finished call has a history"
    path = HISTORIES / f"{name}.json"
    if os.environ.get("RECORD_HISTORIES") == "1" or not path.exists():
        HISTORIES.mkdir(exist_ok=True)
        path.write_text(history.to_json(), encoding="utf-8")
