"""S10 and R1: the Store API down during confirmation; the worker killed mid-turn."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import IO

import asyncpg
from temporalio.client import Client

from core.phones import mask_phone
from core.settings import Settings
from store_api.seed.personas import NO_ORDERS
from tests.support.payload_keys import key_env
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import pick_product, say, search
from tests.workflows.test_order_scenarios import draft_and_readback, orders_of_call
from voiceorder.stack.process import die_with_parent


async def wait_listed(client: Client, query: str, *, within_s: float = 60) -> None:
    """Visibility is eventually consistent: poll until the query lists the workflow."""
    async with asyncio.timeout(within_s):
        while True:
            async for _ in client.list_workflows(query):
                return
            await asyncio.sleep(0.3)


async def test_s10_store_down_during_confirmation_finishes_after_the_call(
    calls: Calls, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    call = await draft_and_readback(calls, NO_ORDERS.phone, [], attention_after_s=0)
    await store_api.set_faults(error_rate=1.0, path_glob="/orders/*/confirm")
    reply = await call.say("Да")
    assert reply.stage == "CONFIRMING" and "не отвечает" in reply.text
    stuck = (
        f'WorkflowId = "{call.call_id}" AND CallStage = "CONFIRMING"'
        ' AND Attention = "store_unavailable"'
    )
    await wait_listed(calls.client, stuck)
    await call.hang_up()
    await store_api.clear_faults()
    assert await call.result() == "order_confirmed"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert len(await calls.sms_of(call.call_id)) == 1
    await wait_listed(calls.client, f'WorkflowId = "{call.call_id}" AND Attention = ""')
    events = await calls.audit_events(call.call_id)
    assert "attention_set" in events and "attention_cleared" in events
    await keep_history(call, "s10_store_down_during_confirmation")


async def test_no_full_phone_number_in_search_attributes_or_details(calls: Calls) -> None:
    call = await calls.start(NO_ORDERS.phone, [search("гречка"), pick_product(1), say("Ещё?")])
    await call.say("Гречку")
    description = await call.handle.describe()
    attributes = {key.name: value for key, value in description.typed_search_attributes}
    assert attributes["CallerPhone"] == mask_phone(NO_ORDERS.phone)
    details = await call.handle.query("__temporal_workflow_metadata")
    digits = NO_ORDERS.phone.lstrip("+")
    assert digits not in str(details) and digits not in str(attributes)
    assert digits not in (await description.static_summary() or "")
    await call.hang_up()
    await call.result()


def worker_env(settings: Settings, client: Client) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": f"{settings.temporal_task_queue}-crash",
        "DATABASE_URL": settings.database_url or "",
        "STORE_API_URL": settings.store_api_url,
        "STORE_API_TOKEN": settings.store_api_token or "",
        "STORE_API_MODE": "test",
        "OPENAI_BASE_URL": settings.openai_base_url or "",
        "OPENAI_API_KEY": "test",
        "LOG_FORMAT": "json",
        **key_env(),
    }


async def start_worker(env: dict[str, str], log: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "worker",
        env=env,
        stdout=log,
        stderr=log,
        preexec_fn=die_with_parent(),
    )


async def test_r1_worker_killed_mid_turn_creating_a_draft(
    calls: Calls, store_api_clean_faults: StoreApiServer, tmp_path: Path
) -> None:
    store_api = store_api_clean_faults
    env = worker_env(calls.settings, calls.client)
    calls.settings = calls.settings.model_copy(
        update={"temporal_task_queue": env["TEMPORAL_TASK_QUEUE"]}
    )
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    worker = await start_worker(env, log)
    restarted: asyncio.subprocess.Process | None = None
    try:
        # The killed turn runs again from its start on the new worker and asks the LLM
        # again: the model answers the same way the second time.
        steps = [search("гречка"), pick_product(1)]
        call = await calls.start(NO_ORDERS.phone, [*steps, *steps, say("Ещё?")])
        await store_api.set_faults(latency_ms=2000, path_glob="/orders")
        turn = asyncio.create_task(call.say("Гречку, одну пачку"))
        async with asyncio.timeout(60):
            await calls.llm.wait_requests(call.call_id, 2)
        await asyncio.sleep(0.5)  # the draft's POST is now in flight at the Store API
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        await store_api.clear_faults()
        restarted = await start_worker(env, log)
        reply = await asyncio.wait_for(turn, 120)
        assert reply.stage == "DRAFTING"
        conn = await asyncpg.connect(store_api.database_url)
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM store.orders WHERE call_id = $1", call.call_id
            )
        finally:
            await conn.close()
        assert count == 1
        await call.hang_up()
        await asyncio.wait_for(call.result(), 120)
    finally:
        for process in (worker, restarted):
            if process is not None and process.returncode is None:
                process.terminate()
                await process.wait()
        log.close()
    # SEC4: the worker's own logs never carry a full phone number.
    logged = log_path.read_text("utf-8", errors="replace")
    assert "agent turn" in logged, "the worker logged the call"
    assert NO_ORDERS.phone.lstrip("+") not in logged
