"""The typed failures as Temporal treats them: a real dev server and worker retry
`BotDatabaseUnavailable` and `SmsGatewayDown` until they clear, and stop at `SmsRejected`.
Also checks that every model survives the project's pydantic data converter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.audit import AuditEntry, PostgresAuditActivities, audit_trail
from activities.db import create_bot_pool
from activities.interfaces.audit import AuditEvent, AuditRecord
from activities.interfaces.call_log import (
    CallEnded,
    CallStarted,
    ToolCallLog,
    TurnRecord,
    TurnTimings,
)
from activities.interfaces.sms import SmsReceipt, SmsRequest
from activities.sms import GatewaySmsActivities, HttpSmsGateway
from core.temporal import DATA_CONVERTER
from core.vocabulary import SmsProvider
from tests.activities.fake_sms_gateway import FakeSmsGateway, fake_sms_gateway
from tests.activities.retry_workflows import SendSmsWorkflow, WriteAuditWorkflow
from tests.activities.tcp_proxy import TcpProxy, proxied_database
from tests.support.temporal import temporal_dev_server

PHONE = "+79161234567"
TOKEN = "sms-test-token"
NOW = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[Client]:
    async with temporal_dev_server(data_converter=DATA_CONVERTER) as env:
        yield env.client


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[TcpProxy, asyncpg.Pool]]:
    async with proxied_database(database_url) as (proxy, url):
        pool = await create_bot_pool(url, min_size=0, max_size=2)
        try:
            yield proxy, pool
        finally:
            await pool.close()


@pytest.fixture
async def sms_gateway() -> AsyncIterator[FakeSmsGateway]:
    async with fake_sms_gateway(TOKEN) as fake:
        yield fake


def worker(client: Client, activities: list[Any]) -> Worker:
    return Worker(
        client,
        task_queue=f"activities-{uuid.uuid4().hex[:8]}",
        workflows=[WriteAuditWorkflow, SendSmsWorkflow],
        activities=activities,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def wait_for_failures(handle: WorkflowHandle[Any, Any], attempts: int) -> tuple[str, str]:
    """Wait until the pending activity has failed `attempts` times; the type and message of
    its last failure, as the Web UI's Pending Activities tab shows them."""
    for _ in range(300):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].attempt > attempts:
            failure = pending[0].last_failure
            return failure.application_failure_info.type, failure.message
        await asyncio.sleep(0.05)
    pytest.fail(f"the activity did not fail {attempts} times")


async def test_audit_retried_by_temporal_through_a_database_outage_lands_once(
    client: Client,
    proxied: tuple[TcpProxy, asyncpg.Pool],
    bot_pool: asyncpg.Pool,
    call_id: str,
) -> None:
    proxy, pool = proxied
    record = AuditRecord(
        event_key=f"{call_id}:audit:1",
        call_id=call_id,
        workflow_id=call_id,
        event=AuditEvent.ORDER_CONFIRMED,
        actor="bot",
        order_number="100245",
        phone=PHONE,
        details={"total": 259900},
        at=NOW,
    )
    the_worker = worker(client, [PostgresAuditActivities(pool).write_audit])
    async with the_worker:
        await proxy.cut()
        handle = await client.start_workflow(
            WriteAuditWorkflow.run, record, id=call_id, task_queue=the_worker.task_queue
        )
        kind, message = await wait_for_failures(handle, 3)
        # Readable for operators: our type and words, not "Failure exceeds size limit."
        assert kind == "BotDatabaseUnavailable"
        assert message.startswith("write audit order_confirmed: bot database unavailable (")
        await proxy.restore()
        assert await handle.result() is True

    assert [entry.event_key for entry in await audit_trail(bot_pool, call_id=call_id)] == [
        record.event_key
    ]


async def test_sms_retried_by_temporal_while_the_gateway_answers_503(
    client: Client, bot_pool: asyncpg.Pool, sms_gateway: FakeSmsGateway, call_id: str
) -> None:
    sms_gateway.fail_next(3, status=503)
    gateway = HttpSmsGateway(sms_gateway.url, TOKEN, pool=bot_pool)
    key = f"{call_id}:sms:100245"
    the_worker = worker(client, [GatewaySmsActivities(gateway).send_sms])
    async with the_worker:
        receipt = await client.execute_workflow(
            SendSmsWorkflow.run,
            SmsRequest(idempotency_key=key, phone=PHONE, text="Заказ 100245 принят."),
            id=call_id,
            task_queue=the_worker.task_queue,
        )

    assert receipt.provider is SmsProvider.HTTP
    assert receipt.provider_message_id == sms_gateway.delivered[key].id
    assert len(sms_gateway.requests) == 4
    row = await bot_pool.fetchrow(
        "SELECT status, attempts FROM bot.sms_messages WHERE idempotency_key = $1", key
    )
    assert row is not None and tuple(row) == ("sent", 4)


async def test_a_rejected_sms_is_not_retried(
    client: Client, bot_pool: asyncpg.Pool, sms_gateway: FakeSmsGateway, call_id: str
) -> None:
    sms_gateway.reject(400, "invalid sender")
    gateway = HttpSmsGateway(sms_gateway.url, TOKEN, pool=bot_pool)
    the_worker = worker(client, [GatewaySmsActivities(gateway).send_sms])
    async with the_worker:
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(
                SendSmsWorkflow.run,
                SmsRequest(idempotency_key=f"{call_id}:sms:1", phone=PHONE, text="Заказ принят."),
                id=call_id,
                task_queue=the_worker.task_queue,
            )

    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "SmsRejected"
    assert "invalid sender" in activity_error.cause.message
    assert len(sms_gateway.requests) == 1


@pytest.mark.parametrize(
    "model",
    [
        AuditRecord(
            event_key="k",
            call_id="c",
            workflow_id="c",
            event=AuditEvent.SMS_SENT,
            actor="operator:petrov",
            phone=PHONE,
            details={"text": "Заказ", "items": [1, 2.5, None, True], "nested": {"a": "б"}},
            at=NOW,
        ),
        AuditEntry(
            id=1,
            event_key="k",
            call_id="c",
            workflow_id="c",
            event=AuditEvent.SMS_SENT,
            actor="bot",
            at=NOW,
            recorded_at=NOW,
        ),
        CallStarted(call_id="c", caller_phone=PHONE, started_at=NOW, agent_mode="llm"),
        CallEnded(call_id="c", ended_at=NOW, outcome="abandoned", last_stage="LISTENING"),
        TurnRecord(
            call_id="c",
            turn_no=3,
            caller_text="да",
            reply_text="Заказ подтверждён.",
            action="continue",
            tools=[ToolCallLog(name="confirm_order", arguments={}, outcome="ok", ms=12.5)],
            timings=TurnTimings(agent_ms=1, tools_ms=2, total_ms=3, tts_ms=4),
            at=NOW,
        ),
        SmsRequest(idempotency_key="k", phone=PHONE, text="т", call_id="c", order_number="1"),
        SmsReceipt(
            idempotency_key="k",
            provider=SmsProvider.DATABASE,
            provider_message_id="db-1",
            sent_at=NOW + timedelta(seconds=1),
            duplicate=True,
        ),
    ],
    ids=lambda model: type(model).__name__,
)
def test_models_survive_the_data_converter(model: BaseModel) -> None:
    converter = DATA_CONVERTER.payload_converter
    payloads = converter.to_payloads([model])
    [back] = converter.from_payloads(payloads, [type(model)])
    assert back == model
    assert type(back) is type(model)
