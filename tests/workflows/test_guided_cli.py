"""`voiceorder chat --script` against a worker with no LLM configured: a guided call."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from store_api.seed.personas import NO_ORDERS
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.test_cli_tools import cli_env
from tests.workflows.test_order_scenarios import orders_of_call
from voiceorder.calls import agent_for
from voiceorder.settings import AgentMode, Settings
from workers.worker import activity_set, build_worker

SCRIPT = """\
# a whole order by guided dialog: no LLM anywhere
Хочу заказать гречку продел
Две пачки
Это всё
Курьером
Москва, улица Тверская, дом семь, квартира двенадцать
Завтра
Да
Нет, спасибо
"""


@pytest.fixture
async def no_llm_queue(
    temporal_env: WorkflowEnvironment, call_settings: Settings
) -> AsyncIterator[str]:
    """A worker of its own whose settings name no LLM, as `./dev up` without OPENAI_*."""
    settings = call_settings.model_copy(
        update={"openai_base_url": None, "temporal_task_queue": f"no-llm-{uuid.uuid4().hex[:8]}"}
    )
    async with (
        activity_set(settings) as activities,
        build_worker(temporal_env.client, settings, activities),
    ):
        yield settings.temporal_task_queue


def test_the_starter_picks_guided_without_an_llm() -> None:
    def settings(agent: AgentMode, url: str | None) -> Settings:
        return Settings(_env_file=None, agent=agent, openai_base_url=url)

    assert agent_for(settings(AgentMode.AUTO, None)) == "guided"
    assert agent_for(settings(AgentMode.AUTO, "http://llm")) == "auto"
    assert agent_for(settings(AgentMode.GUIDED, "http://llm")) == "guided"
    assert agent_for(settings(AgentMode.LLM, None)) == "llm"


async def test_chat_script_runs_a_guided_order_with_no_llm_configured(
    calls: Calls, no_llm_queue: str, store_api: StoreApiServer, tmp_path: Path
) -> None:
    script = tmp_path / "order.txt"
    script.write_text(SCRIPT, "utf-8")
    call_id = f"call-{uuid.uuid4()}"
    env = {key: value for key, value in cli_env(calls).items() if not key.startswith("OPENAI_")}
    env.update({"TEMPORAL_TASK_QUEUE": no_llm_queue, "AGENT": "auto"})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "chat",
        "--phone",
        NO_ORDERS.phone,
        "--script",
        str(script),
        "--call-id",
        call_id,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), 120)
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 0, err
    assert "оформить новый?" in out, "the guided greeting"
    assert "Всё верно?" in out and "оформлен" in out
    assert "итог звонка: order_confirmed" in out, out
    assert calls.llm.requests(call_id) == []
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert len(await calls.sms_of(call_id)) == 1
