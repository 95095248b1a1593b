"""`python -m voiceorder up` end to end: the real stack in a subprocess, on free ports.

One test walks a user's day: first start, try the Store API, Ctrl-C; start again (the data
is still there); `--reset` (it is gone). PostgreSQL is embedded, or a fresh database on the
server named by DATABASE_URL when the environment sets one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import History
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from audiosocket.simulator.peer import AudioSocketPeer
from core.history_payloads import SDK_BOOKKEEPING, payload_paths
from core.payload_codec import KEY_ID
from core.settings import DEV_STORE_API_TOKEN
from tests.support.servers import free_port, scratch_database, server_data_dir
from voiceorder.stack.temporal import CALL_SEARCH_ATTRIBUTES

pytestmark = pytest.mark.slow

READY_LINE = "voiceorder is up"
# First start on a loaded 2-core box: initdb, migrations and the demo catalogue.
FIRST_START_S = 180
STOP_S = 60


class Up:
    """One `voiceorder up` process, its output in a file (a pipe could fill up and block it)."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.log = workdir / f"up-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voiceorder", "up", *args],
            env=env,
            cwd=workdir,  # away from the checkout's .env
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, within_s: float) -> float:
        started = time.monotonic()
        while READY_LINE not in self.output():
            assert self.process.poll() is None, f"up exited early:\n{self.output()}"
            assert time.monotonic() - started < within_s, f"not up in {within_s}s:\n{self.output()}"
            time.sleep(0.2)
        return time.monotonic() - started

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"up did not stop within {STOP_S}s after SIGINT:\n{self.output()}")

    def kill_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # the children follow (die_with_parent)
            self.process.wait()


@contextmanager
def running_up(env: dict[str, str], workdir: Path, *args: str) -> Iterator[Up]:
    up = Up(env, workdir, *args)
    try:
        yield up
    finally:
        up.kill_if_running()


@asynccontextmanager
async def database_for_up() -> AsyncIterator[str | None]:
    """None (embedded), or a fresh database on the DATABASE_URL server, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        yield None
        return
    async with scratch_database(server_url, "vo_up") as url:
        yield url


def up_env(
    data_dir: Path, home: Path, database_url: str | None
) -> tuple[dict[str, str], dict[str, int]]:
    ports = {
        "pg": free_port(),
        "temporal": free_port(),
        "ui": free_port(),
        "store": free_port(),
        "edge": free_port(),
        "codec": free_port(),
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "STORE_DATABASE_URL",
            "STORE_API_TOKEN",
            "STORE_API_MODE",
            "PAYLOAD_KEYS",
            "PAYLOAD_KEYS_FILE",
            "PAYLOAD_KEY_ID",
        }
    }
    env |= {
        "DATA_DIR": str(data_dir),
        "EMBEDDED_PG_PORT": str(ports["pg"]),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "TEMPORAL_UI_PORT": str(ports["ui"]),
        "STORE_API_HOST": "127.0.0.1",
        "STORE_API_PORT": str(ports["store"]),
        "STORE_API_URL": f"http://127.0.0.1:{ports['store']}/api/v1",
        "AUDIOSOCKET_HOST": "127.0.0.1",
        "AUDIOSOCKET_PORT": str(ports["edge"]),
        "CODEC_SERVER_HOST": "127.0.0.1",
        "CODEC_SERVER_PORT": str(ports["codec"]),
        "NO_COLOR": "1",
        # Must stay empty: the stack writes only into DATA_DIR.
        "HOME": str(home),
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    return env, ports


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found


def assert_nothing_left(data_dir: Path, ports: dict[str, int]) -> None:
    deadline = time.monotonic() + 15
    while True:
        left = processes_mentioning(str(data_dir))
        open_ports = [name for name, port in ports.items() if port_open(port)]
        if not left and not open_ports:
            return
        assert time.monotonic() < deadline, f"left behind: {left}, open ports: {open_ports}"
        time.sleep(0.2)


async def assert_temporal_ready(ports: dict[str, int]) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        ui = await http.get(f"http://127.0.0.1:{ports['ui']}/")
    assert ui.status_code == 200
    client = await Client.connect(f"127.0.0.1:{ports['temporal']}")
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    assert set(CALL_SEARCH_ATTRIBUTES) <= set(listed.custom_attributes)


async def assert_edge_answers(ports: dict[str, int]) -> str:
    """A call over AudioSocket gets silence at once, then the greeting: edge → Temporal →
    worker → audio back. Returns the call's workflow id."""
    leg = uuid.uuid4()
    peer = await AudioSocketPeer.connect("127.0.0.1", ports["edge"], leg, rate=8000)
    try:
        await peer.wait_for_bot_speech(timeout_s=60)
        assert peer.received[0][1] == bytes(320), "the first frame must be silence"
    finally:
        await peer.hang_up()
    return f"call-{leg}"


async def assert_payloads_encrypted(ports: dict[str, int], call_id: str, data_dir: Path) -> None:
    """What the edge and the worker wrote is stored under the local key `up` made, and the
    codec server decrypts it for a loopback client."""
    key_id = (data_dir / "payload-keys").read_text().splitlines()[-1].split(":", 1)[0]
    client = await Client.connect(f"127.0.0.1:{ports['temporal']}")  # no codec: as stored
    history = await client.get_workflow_handle(call_id).fetch_history()
    stored = [
        payload
        for where, payload in payload_paths(History(events=history.events))
        if SDK_BOOKKEEPING.search(where) is None
    ]
    assert stored and {p.metadata.get(KEY_ID) for p in stored} == {key_id.encode()}
    async with httpx.AsyncClient(timeout=10) as http:
        decoded = await http.post(
            f"http://127.0.0.1:{ports['codec']}/decode",
            json=json_format.MessageToDict(Payloads(payloads=stored[:1])),
        )
    assert decoded.status_code == 200, decoded.text
    assert b"binary/encrypted" not in decoded.content


def store_client(env: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=env["STORE_API_URL"],
        headers={"Authorization": f"Bearer {DEV_STORE_API_TOKEN}"},
        timeout=15,
    )


async def create_order(env: dict[str, str]) -> str:
    async with store_client(env) as store:
        assert (await store.get("/health")).status_code == 200
        found = await store.get("/products/search", params={"q": "гречка"})
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        assert items, "the demo catalogue has no гречка"
        order = await store.post(
            "/orders",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "customer": {"phone": "+79160000001"},
                "items": [{"product_id": items[0]["id"], "quantity": 1}],
            },
        )
        assert order.status_code == 201, order.text
        return str(order.json()["id"])


async def order_status(env: dict[str, str], order_id: str) -> int:
    async with store_client(env) as store:
        return (await store.get(f"/orders/{order_id}")).status_code


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """DATA_DIR: outside pytest's basetemp, which a new test session makes private again."""
    with server_data_dir("voiceorder-test-up-") as path:
        yield path / "data"


async def test_up_runs_the_stack_keeps_data_and_resets(tmp_path: Path, data_dir: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    async with database_for_up() as database_url:
        env, ports = up_env(data_dir, home, database_url)

        with running_up(env, tmp_path) as up:
            await asyncio.to_thread(up.wait_ready, FIRST_START_S)
            banner = up.output()
            assert f"http://127.0.0.1:{ports['ui']}" in banner
            assert DEV_STORE_API_TOKEN in banner
            assert f"AudioSocket 127.0.0.1:{ports['edge']}" in banner
            assert "encrypted (key local-" in banner
            await assert_temporal_ready(ports)
            call_id = await assert_edge_answers(ports)
            await assert_payloads_encrypted(ports, call_id, data_dir)
            order_id = await create_order(env)
            assert up.interrupt() == 0, up.output()
        assert_nothing_left(data_dir, ports)
        assert list(home.iterdir()) == []

        with running_up(env, tmp_path) as up:
            again_s = await asyncio.to_thread(up.wait_ready, FIRST_START_S)
            assert again_s < 60, f"restart took {again_s:.1f}s"
            assert "first run" not in up.output()
            assert await order_status(env, order_id) == 200
            await assert_temporal_ready(ports)
            assert up.interrupt() == 0, up.output()
        assert_nothing_left(data_dir, ports)

        with running_up(env, tmp_path, "--reset") as up:
            await asyncio.to_thread(up.wait_ready, FIRST_START_S)
            assert f"--reset: deleting {data_dir}" in up.output()
            # An external database is not ours to wipe; the embedded one is.
            assert await order_status(env, order_id) == (200 if database_url else 404)
            assert up.interrupt() == 0, up.output()
        assert_nothing_left(data_dir, ports)
