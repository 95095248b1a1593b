"""Every recorded history in tests/histories/ still replays with today's workflow code.

A change that would break running calls fails here (TMPRL1100 nondeterminism). Guard such
changes with `workflow.patched(...)` — see docs/call-workflow.md.

Histories recorded before payload encryption hold plaintext payloads; newer ones are stored
as the server holds them, encrypted with the committed test key (tests/support/
payload_keys.py). The replayer decrypts with the same converter production uses, so both
kinds replay, and a history that cannot be decrypted fails here with its key id.
"""

from __future__ import annotations

import pytest
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.history_payloads import payloads_in
from core.payload_codec import KEY_ID, is_encrypted
from tests.support.payload_keys import TEST_DATA_CONVERTER, TEST_KEY_ID
from tests.workflows.history import HISTORIES
from workers.worker import WORKFLOWS, workflow_runner

RECORDED = sorted(HISTORIES.glob("*.json"))
TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in RECORDED}


def key_ids(name: str) -> set[str]:
    """The key ids of a recorded history's payloads ("" for a plaintext payload)."""
    history = WorkflowHistory.from_json(name, TEXTS[name])
    return {
        payload.metadata[KEY_ID].decode() if is_encrypted(payload) else ""
        for payload in payloads_in(History(events=history.events))
    }


def test_histories_are_recorded() -> None:
    assert len(RECORDED) >= 10, "each dialog scenario leaves a history (RECORD_HISTORIES=1)"


def test_encrypted_histories_are_among_them_all_with_the_test_key() -> None:
    used = {name: key_ids(name) for name in TEXTS}
    encrypted = [name for name, ids in used.items() if ids - {""}]
    assert encrypted, "some recorded history is encrypted, so replay decrypts (RECORD_HISTORIES)"
    for name in encrypted:
        # "" is the SDK's plaintext marker bookkeeping (see test_privacy.py).
        assert used[name] - {""} == {TEST_KEY_ID}, f"{name}: encrypted with the test key"


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, TEXTS[name])
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(sandboxed=True),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
