"""The edge's /metrics and /health have no authentication: they listen on METRICS_HOST
(loopback by default), not wherever AUDIOSOCKET_HOST points Asterisk."""

from __future__ import annotations

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from audiosocket.edge import Edge
from core.settings import Settings
from tests.audiosocket import conftest as edge_stack
from tests.support.servers import free_port

temporal_env = edge_stack.temporal_env


@pytest.mark.parametrize(
    ("metrics_host", "listens_on"),
    [(None, "127.0.0.1"), ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0")],
    ids=["unset", "loopback", "everywhere"],
)
async def test_metrics_stay_on_loopback_when_audiosocket_listens_everywhere(
    temporal_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    metrics_host: str | None,
    listens_on: str,
) -> None:
    monkeypatch.setenv("AUDIOSOCKET_HOST", "0.0.0.0")
    monkeypatch.setenv("AUDIOSOCKET_PORT", str(free_port()))
    if metrics_host is None:
        monkeypatch.delenv("METRICS_HOST", raising=False)
    else:
        monkeypatch.setenv("METRICS_HOST", metrics_host)
    settings = Settings(_env_file=None)

    async with Edge.from_settings(settings, temporal_env.client, metrics_port=0) as edge:
        assert edge.server.host == "0.0.0.0"
        address = edge.metrics_address
        assert address is not None and address[0] == listens_on
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{address[1]}/health")
        assert health.status_code == 200
