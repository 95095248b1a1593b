"""Recorded histories: every scenario test can leave its workflow history in tests/histories/.

Set RECORD_HISTORIES=1 to (re)write them; test_replay.py replays every file there, so a
workflow change that would break running calls fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path

from workflows.client import CallSession

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def keep_history(call: CallSession, name: str) -> None:
    history = await call.handle.fetch_history()
    assert history.events, "a finished call has a history"
    path = HISTORIES / f"{name}.json"
    if os.environ.get("RECORD_HISTORIES") == "1" or not path.exists():
        HISTORIES.mkdir(exist_ok=True)
        path.write_text(history.to_json(), encoding="utf-8")
