"""A real call stack for workflow tests: Temporal dev server, worker, Store API, fake LLM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings, StoreApiMode
from core.vocabulary import AgentMode, SmsProvider
from tests.support.fake_llm import FakeLLM
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.support.servers import StoreApiServer
from tests.support.shelves import restock_as_seeded
from tests.support.temporal import temporal_dev_server
from workers.worker import activity_set, build_worker
from workflows.client import CallSession
from workflows.models import CallStart, LookupLimits

REPLY_STREAM_SECRET = "reply-stream-test-secret"


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with temporal_dev_server(data_converter=TEST_DATA_CONVERTER) as env:
        yield env


@pytest.fixture(scope="session")
async def fake_llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as llm:
        yield llm


@pytest.fixture(scope="session")
def call_settings(database_url: str, store_api: StoreApiServer, fake_llm: FakeLLM) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        store_api_url=store_api.base_url,
        store_api_token=store_api.token,
        store_api_mode=StoreApiMode.TEST,
        store_api_timeout_s=3.0,
        store_api_retries=1,
        store_api_breaker_threshold=50,
        openai_base_url=fake_llm.base_url,
        openai_api_key="test",
        llm_model="fake-llm",
        temporal_task_queue=f"calls-{uuid.uuid4().hex[:8]}",
        sms_provider=SmsProvider.DATABASE,
        # The worker may stream replies; a turn is streamed only when its edge asks for it.
        reply_stream_secret=REPLY_STREAM_SECRET,
    )


@pytest.fixture(scope="session")
async def call_worker(
    temporal_env: WorkflowEnvironment, call_settings: Settings
) -> AsyncIterator[Client]:
    # In Temporal's sandbox, stricter than production's runner (workers.worker.workflow_runner).
    async with (
        activity_set(call_settings) as activities,
        build_worker(temporal_env.client, call_settings, activities, sandboxed=True),
    ):
        yield temporal_env.client


@dataclass
class Calls:
    """Starts calls against the session's worker, with a fresh call id and LLM script each."""

    client: Client
    settings: Settings
    llm: FakeLLM
    database_url: str

    async def start(
        self,
        phone: str | None,
        script: list[object] | None = None,
        *,
        attention_after_s: int = 120,
        auto_played: bool = True,
        turns_per_run: int = 400,
        agent: AgentMode | None = None,
        lookup_limits: LookupLimits | None = None,
    ) -> CallSession:
        call_id = f"call-{uuid.uuid4()}"
        if script:
            self.llm.script(call_id, script)  # type: ignore[arg-type]
        return await CallSession.start(
            self.client,
            self.settings.temporal_task_queue,
            CallStart(
                caller_number=phone,
                source="test",
                attention_after_s=attention_after_s,
                turns_per_run=turns_per_run,
                agent=agent,
                lookup_limits=lookup_limits or LookupLimits(),
            ),
            call_id=call_id,
            auto_played=auto_played,
        )

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        """Rows of one query against the bot's database, on a connection of its own."""
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def audit_events(self, call_id: str) -> list[str]:
        rows = await self.fetch(
            "SELECT event FROM bot.order_audit WHERE call_id = $1 ORDER BY at, id", call_id
        )
        return [r["event"] for r in rows]

    async def sms_of(self, call_id: str) -> list[tuple[str, str]]:
        """(phone, text) of every SMS the call sent."""
        rows = await self.fetch(
            "SELECT phone, text FROM bot.sms_messages WHERE idempotency_key LIKE $1"
            " ORDER BY created_at",
            f"{call_id}:sms:%",
        )
        return [(r["phone"], r["text"]) for r in rows]


@pytest.fixture
async def calls(
    call_worker: Client, call_settings: Settings, fake_llm: FakeLLM, database_url: str
) -> Calls:
    await restock_as_seeded(database_url)
    return Calls(call_worker, call_settings, fake_llm, database_url)
