"""Building and running the worker: workflows, activities, and the sandbox's pass-through list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.agent import OpenAiAgentActivities
from activities.audit import PostgresAuditActivities
from activities.call_log import PostgresCallLogActivities
from activities.db import migrate_bot_schema, pool_from_settings
from activities.guided import GuidedPolicyActivities
from activities.interfaces.base import activities_of
from activities.reply_stream import ReplyPublisher
from activities.sms import GatewaySmsActivities, gateway_from_settings
from activities.store import HttpStoreActivities
from core.settings import Settings
from russian._morph import warm_up
from russian.understanding import warm_up as warm_up_understanding
from store_api.client import StoreApiClient
from workflows.call import CallWorkflow

log = structlog.get_logger("worker")

# Pure modules the workflow imports: loaded once per process, not once per workflow run
# (pymorphy3's dictionaries take a while), and free of I/O at call time. No HTTP, LLM or
# database client is among them: the import-linter contracts keep them out of the workflow.
PASS_THROUGH = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "pymorphy3",
    "pymorphy3_dicts_ru",
    "dawg_python",
    "num2words",
    "phonenumbers",
    # Ours: the layers a workflow may import (docs/architecture.md): none of them does I/O.
    "core",
    "russian",
    "guided",
    "prompts",
    "store_api",  # only its contract: the client and the server are out of the workflow's reach
    "activities",  # only its interfaces, likewise
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
            async with AsyncExitStack() as stack:
                # Replies are streamed to the edges only when the worker shares their secret.
                publisher = (
                    await stack.enter_async_context(ReplyPublisher(settings.reply_stream_secret))
                    if settings.reply_stream_secret
                    else None
                )
                yield _implementations(settings, store, pool, publisher)
        finally:
            await store.aclose()
    finally:
        await pool.close()


def _implementations(
    settings: Settings,
    store: StoreApiClient,
    pool: asyncpg.Pool,
    publisher: ReplyPublisher | None,
) -> list[Callable[..., Any]]:
    implementations = [
        HttpStoreActivities(store),
        OpenAiAgentActivities(settings, publisher=publisher),
        GuidedPolicyActivities(),
        PostgresAuditActivities(pool),
        PostgresCallLogActivities(pool),
        GatewaySmsActivities(gateway_from_settings(settings, pool)),
    ]
    return [method for impl in implementations for method in activities_of(impl)]


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
