"""Building and running the worker: workflows, activities, and the sandbox's pass-through list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
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
from core.startup_heap import freeze_startup_heap
from russian._morph import warm_up
from russian.understanding import warm_up as warm_up_understanding
from store_api.client import StoreApiClient
from workers.loop_executor import EventLoopExecutor
from workflows.call import CallWorkflow

log = structlog.get_logger("worker")

# Pure modules the workflow imports, shared with the sandbox when tests run it there (see
# `workflow_runner`): loaded once per process, not once per workflow run (pymorphy3's
# dictionaries take a while), and free of I/O at call time. No HTTP, LLM or
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


def workflow_runner(*, sandboxed: bool = False) -> WorkflowRunner:
    """How the worker runs workflow code: outside Temporal's sandbox, unless `sandboxed`.

    The sandbox re-imports the workflow's own modules for every call and wraps every
    activation and every payload in its import guard: a quarter of the worker's CPU per
    turn under load (docs/benchmarks.md, B2). Production runs without it; the tests run the
    same workflow inside it — the scenario tests' workers and the replay of every recorded
    history — and the sandbox only refuses (a non-deterministic call, an I/O import),
    never changes what workflow code does, so what passes there runs the same outside it.
    The workflow's modules keep no state of their own, only constants, so runs cannot leak
    into each other without the sandbox's per-run copies.
    """
    # Load pymorphy3's dictionaries now, not in a workflow activation (which would blow the
    # 2 s deadlock timeout); inside the sandbox workflow code may not open files either.
    warm_up()
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
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
                agent = OpenAiAgentActivities(settings, publisher=publisher)
                stack.push_async_callback(agent.aclose)
                yield _implementations(settings, store, pool, agent)
        finally:
            await store.aclose()
    finally:
        await pool.close()


def _implementations(
    settings: Settings,
    store: StoreApiClient,
    pool: asyncpg.Pool,
    agent: OpenAiAgentActivities,
) -> list[Callable[..., Any]]:
    implementations = [
        HttpStoreActivities(store),
        agent,
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
    sandboxed: bool = False,
) -> Worker:
    """The worker; `sandboxed` for tests (see `workflow_runner`)."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=activities,
        workflow_runner=workflow_runner(sandboxed=sandboxed),
        # Sandboxed (the tests) keeps the SDK's thread pool and its deadlock detection.
        workflow_task_executor=None if sandboxed else EventLoopExecutor(asyncio.get_running_loop()),
        max_concurrent_local_activities=200,
    )


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event) -> None:
    async with activity_set(settings) as activities:
        worker = build_worker(client, settings, activities)
        freeze_startup_heap()
        log.info("worker started", task_queue=settings.temporal_task_queue)
        async with worker:
            await stop.wait()
    log.info("worker stopped")
