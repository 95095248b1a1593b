"""Building and running the worker: workflows, activities, and the sandbox's pass-through list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.agent import AgentActivities
from activities.audit import AuditActivities
from activities.call_log import CallLogActivities
from activities.db import migrate_bot_schema, pool_from_settings
from activities.guided import guided_turn
from activities.sms import SmsActivities, gateway_from_settings
from activities.store import StoreActivities
from core.settings import Settings
from russian._morph import warm_up
from russian.understanding import warm_up as warm_up_understanding
from store_api.client import StoreApiClient
from workflows.call import CallWorkflow

log = structlog.get_logger("worker")

# Pure modules the workflow imports: loaded once per process, not once per workflow run
# (pymorphy3's dictionaries take a while), and free of I/O at call time.
PASS_THROUGH = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "pymorphy3",
    "pymorphy3_dicts_ru",
    "dawg_python",
    "num2words",
    "phonenumbers",
    "activities",
    "prompts",
    "store_api",
    "core",
    "russian",
    "guided",
    "voiceorder",
    "structlog",
    "httpx",
    "openai",
    "asyncpg",
    "purgatory",
)

WORKFLOWS: list[type] = [CallWorkflow]


def workflow_runner() -> SandboxedWorkflowRunner:
    # Load pymorphy3's dictionaries here, outside the sandbox: workflow code may use the
    # shared analyzer but may not open files.
    warm_up()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASS_THROUGH)
    )


@asynccontextmanager
async def activity_set(settings: Settings) -> AsyncIterator[list[Callable[..., Any]]]:
    """Every activity with the resources it needs, closed again on exit."""
    # The guided agent's parsers load their dictionaries and models now, not in a turn.
    await asyncio.to_thread(warm_up_understanding)
    pool: asyncpg.Pool = await pool_from_settings(settings)
    try:
        async with pool.acquire() as conn:
            await migrate_bot_schema(conn)
        store = StoreApiClient.from_settings(settings)
        try:
            yield [
                *StoreActivities(store).all(),
                AgentActivities(settings).agent_turn,
                guided_turn,
                AuditActivities(pool).write_audit,
                *_call_log(CallLogActivities(pool)),
                SmsActivities(gateway_from_settings(settings, pool)).send_sms,
            ]
        finally:
            await store.aclose()
    finally:
        await pool.close()


def _call_log(call_log: CallLogActivities) -> list[Callable[..., Any]]:
    return [call_log.record_call_started, call_log.record_turn, call_log.record_call_ended]


def build_worker(
    client: Client,
    settings: Settings,
    activities: list[Callable[..., Any]],
    *,
    extra_workflows: Sequence[type] = (),
) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=activities,
        workflow_runner=workflow_runner(),
        max_concurrent_local_activities=200,
    )


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event) -> None:
    async with activity_set(settings) as activities:
        worker = build_worker(client, settings, activities)
        log.info("worker started", task_queue=settings.temporal_task_queue)
        async with worker:
            await stop.wait()
    log.info("worker stopped")
