"""workers/metrics.py and `voiceorder worker --metrics-port`: the SDK's exporter, its address
and the one-line error when it cannot listen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import free_port
from workers.metrics import MetricsExportError, bind_address, metrics_runtime


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_the_exporter_binds_an_address_and_serves_metrics() -> None:
    assert bind_address("127.0.0.1", 9464) == "127.0.0.1:9464"
    assert bind_address("::1", 9464) == "[::1]:9464"
    assert bind_address("localhost", 9464) in ("127.0.0.1:9464", "[::1]:9464")
    port = free_port()
    runtime = metrics_runtime("localhost", port)  # a name, as METRICS_HOST may be
    host = bind_address("localhost", port).rpartition(":")[0]
    assert httpx.get(f"http://{host}:{port}/metrics", timeout=10).status_code == 200
    del runtime  # the exporter lives as long as its runtime


def test_a_taken_port_is_a_clear_error(taken_port: int) -> None:
    with pytest.raises(MetricsExportError, match=f"127.0.0.1:{taken_port}"):
        metrics_runtime("127.0.0.1", taken_port)
    with pytest.raises(MetricsExportError, match="METRICS_HOST"):
        bind_address("no-such-host.invalid", 9464)


def test_the_worker_says_so_in_one_line(taken_port: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "METRICS_HOST": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "voiceorder", "worker", "--metrics-port", str(taken_port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    expected = f"Error: cannot serve worker metrics on 127.0.0.1:{taken_port} (METRICS_HOST/"
    assert line.startswith(expected), line
    assert "Address already in use" in line
