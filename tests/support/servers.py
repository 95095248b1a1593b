"""Real servers for the test session: PostgreSQL and the Store API, on free ports.

Nothing here relies on a stack left running or on fixed ports, so `./dev test` also works
while `./dev up` runs. PostgreSQL is the system server named by DATABASE_URL when set
(each session then creates and drops its own database), else an embedded one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx

from voiceorder.stack.postgres import EmbeddedPostgres, start_embedded, stop_embedded
from voiceorder.stack.process import die_with_parent, stop_child

TEST_STORE_TOKEN = "test-store-token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_data_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder for what a server keeps while it runs, outside pytest's basetemp.

    As root, embedded PostgreSQL runs as another user, who reaches its data through o+x on
    the folders above it (see voiceorder/stack/postgres.py). pytest makes
    /tmp/pytest-of-<user> private (0700) again whenever any test session starts, which cut a
    running server off its data mid-session ("PANIC: could not open file pg_control").
    """
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as path:
        yield Path(path)


def with_database(server_url: str, database: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database on `server_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def postgres_database(workdir: Path) -> AsyncIterator[str]:
    """Yield the URL of a fresh, empty database on a real PostgreSQL server."""
    system_url = os.environ.get("DATABASE_URL")
    if system_url:
        async with scratch_database(system_url, "vo_test") as url:
            yield url
        return
    server = EmbeddedPostgres(workdir / "pg", free_port(), durable=False)
    process = await start_embedded(server)
    try:
        async with scratch_database(server.url(), "vo_test") as url:
            yield url
    finally:
        await stop_embedded(process)


@dataclass
class StoreApiServer:
    """A Store API server process started by the test session, with its admin helpers."""

    base_url: str
    token: str
    database_url: str
    process: asyncio.subprocess.Process

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _admin(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.auth) as client:
            response = await client.request(method, f"/admin{path}", json=json)
            response.raise_for_status()
            return response.json() if response.content else None

    async def set_faults(
        self,
        *,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        path_glob: str | None = None,
        fail_before_commit: bool = False,
    ) -> None:
        await self._admin(
            "PUT",
            "/faults",
            {
                "latency_ms": latency_ms,
                "error_rate": error_rate,
                "path_glob": path_glob,
                "fail_before_commit": fail_before_commit,
            },
        )

    async def clear_faults(self) -> None:
        await self._admin("DELETE", "/faults")

    async def set_order_status(self, order_id: str, status: str) -> Any:
        return await self._admin("POST", f"/orders/{order_id}/status", {"status": status})

    async def set_product(
        self, product_id: str, *, price: int | None = None, stock_qty: int | None = None
    ) -> Any:
        body: dict[str, int] = {}
        if price is not None:
            body["price"] = price
        if stock_qty is not None:
            body["stock_qty"] = stock_qty
        return await self._admin("PATCH", f"/products/{product_id}", body)


@asynccontextmanager
async def store_api_server(
    database_url: str, *, log: Path | None = None
) -> AsyncIterator[StoreApiServer]:
    """Migrate and seed `database_url`, then run `voiceorder store-api serve` against it.

    With `log`, the server's output (stdout and stderr) goes to that file, for tests that
    read what it logged; else to the test session's.
    """
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STORE_DATABASE_URL": database_url,
        "STORE_API_TOKEN": TEST_STORE_TOKEN,
        "STORE_API_MODE": "test",
        "STORE_API_HOST": "127.0.0.1",
        "STORE_API_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceorder", "store-api", "seed", env=env
    )
    if await seed.wait() != 0:
        raise RuntimeError("voiceorder store-api seed failed (output above)")
    output = log.open("ab") if log is not None else None
    try:
        process = await spawn_store_api(env, output=output)
    finally:
        if output is not None:
            output.close()  # the child has its own copy
    base_url = f"http://127.0.0.1:{port}/api/v1"
    try:
        await _wait_healthy(base_url, process)
        yield StoreApiServer(base_url, TEST_STORE_TOKEN, database_url, process)
    finally:
        await stop_child(process, signal.SIGTERM, 10)


async def spawn_store_api(
    env: dict[str, str], *, output: IO[bytes] | int | None = None
) -> asyncio.subprocess.Process:
    """`voiceorder store-api serve` as a child that dies with the test session."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceorder",
        "store-api",
        "serve",
        env=env,
        preexec_fn=die_with_parent(),
        stdout=output,
        stderr=output,
    )


async def _wait_healthy(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(f"Store API exited with code {process.returncode}")
            try:
                response = await client.get(f"{base_url}/health", timeout=1)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("Store API did not become healthy in 30 s")
