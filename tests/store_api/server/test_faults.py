"""Fault injection is for dev/test only and never blocks the admin or health endpoints."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from core.settings import Settings, StoreApiMode
from store_api.server.app import ConfigurationError, fault_config, server_token
from tests.store_api.server.conftest import in_stock_product
from tests.support.servers import StoreApiServer, free_port, spawn_store_api


async def test_injected_errors_and_latency(
    api: httpx.AsyncClient, store_api_clean_faults: StoreApiServer
) -> None:
    store_api = store_api_clean_faults
    await store_api.set_faults(error_rate=1.0, path_glob="/products/*")
    failing = await api.get("/products/search", params={"q": "гречка"})
    assert failing.status_code == 503
    assert failing.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    other = await api.get("/pickup-points")
    assert other.status_code == 200, "a path outside the glob is not affected"
    assert (await api.get("/health")).status_code == 200
    await store_api.set_faults(latency_ms=300)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await api.get("/pickup-points")).status_code == 200
    assert loop.time() - started >= 0.3
    await store_api.clear_faults()
    assert (await in_stock_product(api, "гречка"))["id"]


def test_prod_mode_refuses_faults_and_a_missing_token() -> None:
    prod = Settings(store_api_mode=StoreApiMode.PROD, store_api_token=None, _env_file=None)
    with pytest.raises(ConfigurationError, match="STORE_API_TOKEN"):
        server_token(prod)
    faulty = Settings(
        store_api_mode=StoreApiMode.PROD,
        store_api_token="t",
        store_api_fault_error_rate=0.5,
        _env_file=None,
    )
    with pytest.raises(ConfigurationError, match="fault injection"):
        fault_config(faulty)
    dev = Settings(store_api_mode=StoreApiMode.DEV, store_api_token=None, _env_file=None)
    assert server_token(dev) == "voiceorder-dev-token"


async def test_server_refuses_to_start_without_token_in_prod(store_api: StoreApiServer) -> None:
    env = {
        **os.environ,
        "STORE_DATABASE_URL": store_api.database_url,
        "STORE_API_MODE": "prod",
        "STORE_API_PORT": str(free_port()),
    }
    env.pop("STORE_API_TOKEN", None)
    process = await spawn_store_api(env, output=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode != 0
    assert b"STORE_API_TOKEN is required" in stderr
