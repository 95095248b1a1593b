"""Every recorded history in tests/histories/ still replays with today's workflow code.

A change that would break running calls fails here (TMPRL1100 nondeterminism). Guard such
changes with `workflow.patched(...)` — see docs/call-workflow.md.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.temporal import DATA_CONVERTER
from tests.workflows.history import HISTORIES
from workers.worker import WORKFLOWS, workflow_runner

RECORDED = sorted(HISTORIES.glob("*.json"))
TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in RECORDED}


def test_histories_are_recorded() -> None:
    assert len(RECORDED) >= 10, "each dialog scenario leaves a history (RECORD_HISTORIES=1)"


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, TEXTS[name])
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(sandboxed=True),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
