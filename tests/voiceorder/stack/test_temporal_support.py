"""The test helpers start real Temporal servers from the venv, with our search attributes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.support.temporal import temporal_dev_server, temporal_time_skipping
from voiceorder.stack.temporal import CALL_SEARCH_ATTRIBUTES


@workflow.defn(sandboxed=False)
class SleepsAnHour:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(hours=1))
        return "woke up"


async def test_dev_server_registers_the_call_search_attributes() -> None:
    async with temporal_dev_server() as env:
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=env.client.namespace)
        )
        for name in CALL_SEARCH_ATTRIBUTES:
            assert listed.custom_attributes[name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

        # Usable, not just listed: a workflow tagged with one is found by a visibility query.
        stage = f"stage-{uuid.uuid4().hex[:8]}"
        await env.client.start_workflow(
            "NoWorkerNeeded",
            id=f"wf-{stage}",
            task_queue="nobody-polls",
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SearchAttributeKey.for_keyword("CallStage"), stage)]
            ),
        )
        for _ in range(100):
            found = await env.client.count_workflows(f"CallStage = '{stage}'")
            if found.count == 1:
                break
            await asyncio.sleep(0.1)
        assert found.count == 1


async def test_time_skipping_server_skips_timers() -> None:
    async with temporal_time_skipping() as env:
        assert env.supports_time_skipping
        async with Worker(
            env.client,
            task_queue="sleepers",
            workflows=[SleepsAnHour],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            result = await asyncio.wait_for(
                env.client.execute_workflow(
                    SleepsAnHour.run, id=f"sleep-{uuid.uuid4().hex}", task_queue="sleepers"
                ),
                timeout=60,
            )
        assert result == "woke up"
