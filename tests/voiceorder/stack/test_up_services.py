"""`up`'s PostgreSQL and Temporal services under the supervisor, without the CLI or the
Store API: the database is created, the attributes are registered, everything stops."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import asyncpg
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from core.settings import Settings
from tests.support.servers import free_port
from voiceorder.stack.supervisor import Supervisor
from voiceorder.stack.temporal import CALL_SEARCH_ATTRIBUTES
from voiceorder.stack.up import Stack, postgres_service, temporal_service


async def test_embedded_postgres_and_temporal_start_and_stop(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=None,
        embedded_pg_port=free_port(),
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
    )
    stack = Stack.plan(settings)
    assert stack.postgres is not None
    databases: list[str] = []
    attributes: set[str] = set()
    out = io.StringIO()
    supervisor: Supervisor

    async def inspect() -> None:
        try:
            conn = await asyncpg.connect(stack.database_url)
            databases.append(await conn.fetchval("SELECT current_database()"))
            await conn.close()
            client = await Client.connect(stack.temporal.address)
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace="default")
            )
            attributes.update(listed.custom_attributes)
        finally:
            supervisor.request_stop("inspected")

    tasks: set[asyncio.Task[None]] = set()

    def on_ready() -> None:
        tasks.add(asyncio.create_task(inspect()))

    supervisor = Supervisor(
        [postgres_service(stack.postgres), temporal_service(stack.temporal)],
        stream=out,
        on_ready=on_ready,
    )
    code = await asyncio.wait_for(supervisor.run(handle_signals=False), 180)
    await asyncio.gather(*tasks)

    assert code == 0, out.getvalue()
    assert databases == ["voiceorder"]
    assert set(CALL_SEARCH_ATTRIBUTES) <= attributes
    assert "postgres | first run: creating a new cluster" in out.getvalue()
    assert stack.temporal.db_file.is_file()
