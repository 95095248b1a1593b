"""russian runs inside a real Temporal workflow sandbox, deterministically."""

from __future__ import annotations

import uuid

from temporalio.worker import Worker

from russian import warm_up
from tests.russian.factories import TODAY
from tests.russian.sandbox_workflow import RussianSpeechWorkflow, speech
from tests.support.temporal import temporal_time_skipping


async def test_speech_in_the_workflow_sandbox_equals_speech_outside() -> None:
    warm_up()  # as a worker does at start, outside the sandbox
    expected = speech(TODAY)
    async with (
        temporal_time_skipping() as env,
        Worker(env.client, task_queue="russian", workflows=[RussianSpeechWorkflow]),
    ):
        for _ in range(2):  # a second run reuses the loaded dictionaries
            result = await env.client.execute_workflow(
                RussianSpeechWorkflow.run,
                TODAY.isoformat(),
                id=f"russian-{uuid.uuid4().hex[:8]}",
                task_queue="russian",
            )
            assert result == expected
