"""R2: the Temporal server restarts mid-call (same database file); the call carries on."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from core.settings import Settings
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import FakeLLM
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.support.servers import free_port
from tests.workflows.conftest import Calls
from tests.workflows.scripts import pick_product, say, search
from voiceorder.stack.temporal import TemporalDevServer, start_dev_server, stop_dev_server
from workers.worker import activity_set, build_worker

QUIET = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.DEVNULL}


@pytest.mark.slow
async def test_r2_call_continues_after_the_server_restarts(
    tmp_path: Path, call_settings: Settings, fake_llm: FakeLLM, database_url: str
) -> None:
    server = TemporalDevServer(tmp_path / "temporal", "127.0.0.1", free_port(), free_port())
    settings = call_settings.model_copy(
        update={"temporal_task_queue": f"restart-{uuid.uuid4().hex[:8]}"}
    )
    process = await start_dev_server(server, **QUIET)
    try:
        client = await Client.connect(server.address, data_converter=TEST_DATA_CONVERTER)
        async with activity_set(settings) as activities:
            calls = Calls(client, settings, fake_llm, database_url)
            async with build_worker(client, settings, activities):
                call = await calls.start(
                    NO_ORDERS.phone,
                    [search("гречка"), pick_product(1), say("Что-нибудь ещё?"), say("Хорошо.")],
                )
                assert (await call.say("Гречку, одну")).stage == "DRAFTING"

            await stop_dev_server(process)
            process = await start_dev_server(server, **QUIET)
            client = await Client.connect(server.address, data_converter=TEST_DATA_CONVERTER)
            calls.client = client
            call.handle = client.get_workflow_handle(call.call_id, result_type=str)
            async with build_worker(client, settings, activities):
                reply = await asyncio.wait_for(call.say("Нет, это всё"), 60)
                assert reply.stage == "DRAFTING", "the draft survived the restart"
                await call.hang_up()
                assert await asyncio.wait_for(call.result(), 60) == "order_cancelled"
    finally:
        await stop_dev_server(process)
