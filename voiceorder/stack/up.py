"""`voiceorder up`: the whole local stack in the foreground, with real parts only.

PostgreSQL (embedded unless DATABASE_URL is set), the Temporal dev server with its Web UI,
the codec server that decrypts payloads for that UI (with a local payload key made in
DATA_DIR on the first start), the reference Store API (seeded on first run), the workers
and the AudioSocket/ARI edges (`--workers N --edges M`, one of each by default). Everything
local lives in DATA_DIR and is reused by the next run; `--reset` starts afresh. A new
service is one more `ServiceSpec` in `stack_services`; a stateless one gets `RESTART` so a
crash does not take the line down.

Several edges take consecutive AudioSocket ports from AUDIOSOCKET_PORT on, and with ARI each
subscribes its own Stasis app, `<ARI_APP>-<n>`: Asterisk gives an app name to one WebSocket
only (docs/edge.md, "Several edges on one Asterisk"), and with externalMedia each edge must
receive the AudioSocket legs of its own callers, so they cannot share a port either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import secrets
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import click
import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from core.codec_access import parse_allow_list
from core.cpu_priority import BACKGROUND_NICE
from core.local_stack import remove_stack_file, write_stack_file
from core.settings import ConfigurationError, Settings, load_settings
from core.temporal import connect
from voiceorder.stack.payload_key import StackKeys, prepare_stack_keys
from voiceorder.stack.postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    ensure_database,
)
from voiceorder.stack.supervisor import ReadyCheck, Restart, Say, ServiceSpec, Supervisor
from voiceorder.stack.temporal import TemporalDevServer, TemporalDevServerError, split_address

DATABASE = "voiceorder"
# Written into DATA_DIR so that `--reset` never deletes a folder that is not ours.
MARKER = ".voiceorder-data"
# The stateless services come back after a crash (R1: a worker killed mid-call); five exits
# within a minute mean something is broken, and the stack stops saying which.
RESTART = Restart(first_delay_s=1.0, max_delay_s=30.0, burst=5, window_s=60.0)
MAX_PROCESSES = 16


class StackError(click.ClickException):
    """The stack cannot start; the message says why and what to change."""


@dataclass(frozen=True)
class PortNeed:
    host: str
    port: int
    setting: str


@dataclass(frozen=True)
class Edge:
    """One edge process of the stack: its name, AudioSocket port and Stasis app."""

    name: str
    port: int
    ari_app: str
    external_host: str | None  # AUDIOSOCKET_EXTERNAL_HOST for this edge, when set


@dataclass(frozen=True)
class Stack:
    """What `up` runs, worked out from the settings before anything starts."""

    settings: Settings
    data_dir: Path
    postgres: EmbeddedPostgres | None  # None: DATABASE_URL names an existing server
    database_url: str
    temporal: TemporalDevServer
    workers: int = 1
    edge_count: int = 1
    keys: StackKeys | None = None  # set by `up` once DATA_DIR exists (with_keys)
    # Shared by the workers and the edges so replies are streamed (docs/streaming.md); made
    # afresh by each `up` (children restart with the same environment), never written down.
    reply_stream_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def plan(cls, settings: Settings, *, workers: int = 1, edges: int = 1) -> Stack:
        data_dir = settings.data_dir.resolve()
        try:
            host, port = split_address(settings.temporal_address)
        except ValueError as exc:
            raise StackError(f"TEMPORAL_ADDRESS: {exc}") from exc
        temporal = TemporalDevServer(
            data_dir / "temporal",
            host,
            port,
            settings.temporal_ui_port,
            settings.temporal_namespace,
            codec_endpoint=codec_server_url(settings),
        )
        if not 1 <= workers <= MAX_PROCESSES or not 1 <= edges <= MAX_PROCESSES:
            raise StackError(f"--workers and --edges take 1 to {MAX_PROCESSES}")
        if settings.audiosocket_port + edges - 1 > 65535:
            raise StackError(
                f"{edges} edges need ports {settings.audiosocket_port}.."
                f"{settings.audiosocket_port + edges - 1}: set a lower AUDIOSOCKET_PORT"
            )
        if settings.database_url:
            return cls(settings, data_dir, None, settings.database_url, temporal, workers, edges)
        postgres = EmbeddedPostgres(data_dir / "postgres", settings.embedded_pg_port)
        url = postgres.url(DATABASE)
        return cls(settings, data_dir, postgres, url, temporal, workers, edges)

    @property
    def worker_names(self) -> list[str]:
        return _numbered("worker", self.workers)

    @property
    def edges(self) -> list[Edge]:
        """Edge n listens on AUDIOSOCKET_PORT + n - 1 and, when there are several, subscribes
        the Stasis app `<ARI_APP>-<n>`; a set AUDIOSOCKET_EXTERNAL_HOST shifts likewise."""
        settings = self.settings
        several = self.edge_count > 1
        edges = []
        for offset, name in enumerate(_numbered("edge", self.edge_count)):
            external = None
            if settings.audiosocket_external_host:
                host, _, port = settings.audiosocket_external_host.rpartition(":")
                external = f"{host}:{int(port) + offset}"
            edges.append(
                Edge(
                    name=name,
                    port=settings.audiosocket_port + offset,
                    ari_app=f"{settings.ari_app}-{offset + 1}" if several else settings.ari_app,
                    external_host=external,
                )
            )
        return edges

    def ports(self) -> list[PortNeed]:
        needs = []
        if self.postgres is not None:
            needs.append(PortNeed("127.0.0.1", self.postgres.port, "EMBEDDED_PG_PORT"))
        needs += [
            PortNeed(self.temporal.host, self.temporal.port, "TEMPORAL_ADDRESS"),
            PortNeed(self.temporal.host, self.temporal.ui_port, "TEMPORAL_UI_PORT"),
            PortNeed(self.settings.store_api_host, self.settings.store_api_port, "STORE_API_PORT"),
            PortNeed(
                self.settings.codec_server_host,
                self.settings.codec_server_port,
                "CODEC_SERVER_PORT",
            ),
        ]
        needs += [
            PortNeed(self.settings.audiosocket_host, edge.port, "AUDIOSOCKET_PORT")
            for edge in self.edges
        ]
        return needs

    def with_keys(self, keys: StackKeys) -> Stack:
        return dataclasses.replace(self, keys=keys)

    def shared_settings(self) -> dict[str, str]:
        """What every process of this stack must agree on: given to our children and
        published in DATA_DIR for processes started beside us (core/local_stack.py)."""
        settings = self.settings
        local_key = self.keys.local_file if self.keys else None
        return {
            "DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal.address,
            "TEMPORAL_NAMESPACE": self.temporal.namespace,
            "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
            "TEMPORAL_UI_PORT": str(self.temporal.ui_port),
            # Our own dev server speaks plain gRPC, whatever the environment says of a cluster.
            "TEMPORAL_TLS": "false",
            "TEMPORAL_API_KEY": "",
            "TEMPORAL_TLS_CERT": "",
            "TEMPORAL_TLS_KEY": "",
            "TEMPORAL_TLS_CA": "",
            "STORE_API_URL": settings.store_api_url,
            # The local payload key `up` made (configured keys reach children as they are).
            **({"PAYLOAD_KEYS_FILE": str(local_key)} if local_key else {}),
        }

    def child_env(self) -> dict[str, str]:
        """Our children read the same settings; pass what `up` decided explicitly."""
        settings = self.settings
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **self.shared_settings(),
            "STORE_API_HOST": settings.store_api_host,
            "STORE_API_PORT": str(settings.store_api_port),
            "AUDIOSOCKET_HOST": settings.audiosocket_host,
            "AUDIOSOCKET_PORT": str(settings.audiosocket_port),
            "CODEC_SERVER_HOST": settings.codec_server_host,
            "CODEC_SERVER_PORT": str(settings.codec_server_port),
            "REPLY_STREAM_SECRET": settings.reply_stream_secret or self.reply_stream_secret,
        }

    def edge_env(self, edge: Edge) -> dict[str, str]:
        env = self.child_env() | {"AUDIOSOCKET_PORT": str(edge.port), "ARI_APP": edge.ari_app}
        if self.settings.reply_stream_url is None:
            # Each edge its own free port for streamed replies; it tells the workers which.
            env["REPLY_STREAM_PORT"] = "0"
        if edge.external_host is not None:
            env["AUDIOSOCKET_EXTERNAL_HOST"] = edge.external_host
        return env


def _numbered(kind: str, count: int) -> list[str]:
    """`worker` alone, or `worker-1`, `worker-2`, … when there are several."""
    return [kind] if count == 1 else [f"{kind}-{n}" for n in range(1, count + 1)]


def check_ports_free(needs: list[PortNeed]) -> None:
    for need in needs:
        problem = _bind_problem(need.host, need.port)
        if problem is None:
            continue
        if problem == errno.EADDRINUSE:
            raise StackError(
                f"port {need.port} ({need.setting}) is in use — is another `voiceorder up` "
                f"running? Stop it, or set {need.setting} to a free port."
            )
        raise StackError(
            f"cannot listen on {need.host}:{need.port} ({need.setting}): {os.strerror(problem)}"
        )


def _bind_problem(host: str, port: int) -> int | None:
    """The errno of binding host:port the way our servers do, or None if it would work."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return errno.EADDRNOTAVAIL
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # Servers set SO_REUSEADDR, so a port in TIME_WAIT after our last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.errno or errno.EADDRINUSE
    return None


def reset_data_dir(stack: Stack) -> None:
    data_dir = stack.data_dir
    if not data_dir.exists():
        click.echo(f"--reset: {data_dir} does not exist, nothing to delete")
        return
    if any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise StackError(
            f"--reset: refusing to delete {data_dir}: it has no {MARKER} marker, so it is not "
            "a folder `voiceorder up` made. Check DATA_DIR, or delete it yourself."
        )
    parts = ["Temporal history"]
    if stack.postgres is not None:
        parts.insert(0, "embedded PostgreSQL with the Store API data")
    click.echo(f"--reset: deleting {data_dir} ({', '.join(parts)})")
    if stack.postgres is None:
        click.echo("--reset: DATABASE_URL is set; the database there is left as it is")
    shutil.rmtree(data_dir)


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}{port}"))


def codec_server_url(settings: Settings) -> str:
    """Where a browser reaches the codec server (a wildcard bind is reachable on loopback)."""
    host = settings.codec_server_host
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.codec_server_port}"


def stack_services(stack: Stack) -> list[ServiceSpec]:
    env = stack.child_env()
    background: list[ServiceSpec] = []
    if stack.postgres is not None:
        background.append(postgres_service(stack.postgres))
    background += [
        temporal_service(stack.temporal),
        ServiceSpec(
            "codec-server",
            _voiceorder("codec-server"),
            env=env,
            ready=_http_ready(f"{codec_server_url(stack.settings)}/health"),
            restart=RESTART,
        ),
        ServiceSpec("seed", _voiceorder("store-api", "seed"), env=env, one_shot=True),
        ServiceSpec(
            "store-api",
            _voiceorder("store-api", "serve"),
            env=env,
            ready=_http_ready(f"{stack.settings.store_api_url}/health"),
            restart=RESTART,
        ),
    ]
    background += [
        ServiceSpec(
            name,
            _voiceorder("worker"),
            env=env,
            ready=_worker_polling(stack.settings),
            restart=RESTART,
        )
        for name in stack.worker_names
    ]
    # Everything but the edges yields the CPU to the calls' audio (core/cpu_priority.py).
    services = [dataclasses.replace(spec, nice=BACKGROUND_NICE) for spec in background]
    services += [
        ServiceSpec(
            edge.name,
            _voiceorder("edge"),
            env=stack.edge_env(edge),
            ready=_listening(stack.settings.audiosocket_host, edge.port),
            restart=RESTART,
        )
        for edge in stack.edges
    ]
    return services


def _listening(host: str, port: int) -> ReadyCheck:
    """Ready once something listens on host:port (`up` checked it was free before).

    Probing by bind, not by connecting: a connection without a UUID frame would be logged by
    the edge as a broken call.
    """

    async def ready(process: asyncio.subprocess.Process) -> None:
        while process.returncode is None:
            if _bind_problem(host, port) == errno.EADDRINUSE:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"exited with code {process.returncode}")

    return ready


def _worker_polling(settings: Settings) -> ReadyCheck:
    """Ready when Temporal sees this worker polling the call task queue: a poller whose
    identity is the SDK's default, `<pid>@<host>` (others may be polling already)."""

    async def ready(process: asyncio.subprocess.Process) -> None:
        client = await connect(settings)
        request = DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        ours = f"{process.pid}@"
        while process.returncode is None:
            described = await client.workflow_service.describe_task_queue(request)
            if any(poller.identity.startswith(ours) for poller in described.pollers):
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(f"exited with code {process.returncode}")

    return ready


def _voiceorder(*args: str) -> list[str]:
    return [sys.executable, "-m", "voiceorder", *args]


def postgres_service(server: EmbeddedPostgres) -> ServiceSpec:
    async def prepare(say: Say) -> None:
        if not server.initialised:
            say(f"first run: creating a new cluster in {server.data_dir} (a few seconds)")
        await asyncio.to_thread(server.initialise)

    async def ready(process: asyncio.subprocess.Process) -> None:
        await server.wait_ready(process, within_s=60)
        await ensure_database(server.url(), DATABASE)

    popen = {key: value for key, value in server.popen_kwargs().items() if key != "preexec_fn"}
    return ServiceSpec(
        "postgres",
        server.command(),
        ready=ready,
        prepare=prepare,
        # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing is lost.
        stop_signal=signal.SIGINT,
        stop_grace_s=30,
        popen=popen,
    )


def temporal_service(server: TemporalDevServer) -> ServiceSpec:
    async def prepare(say: Say) -> None:
        await asyncio.to_thread(server.prepare)

    return ServiceSpec(
        "temporal",
        server.command(),
        ready=server.wait_ready,
        prepare=prepare,
        stop_grace_s=15,
        # Its pollers warn about every connection closed by its own shutdown.
        show_while_stopping=lambda line: "level=WARN" not in line,
    )


def _http_ready(url: str) -> ReadyCheck:
    async def ready(process: asyncio.subprocess.Process) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while process.returncode is None:
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"exited with code {process.returncode}")

    return ready


def _edge_summary(settings: Settings, edge: Edge) -> str:
    listen = f"AudioSocket {settings.audiosocket_host}:{edge.port}"
    if settings.ari_url:
        ari = f"ARI {settings.ari_url} app {edge.ari_app}"
    else:
        ari = "no ARI (dialplan AudioSocket())"
    stt = "STT on" if settings.stt_base_url else "no STT: callers hear an apology (STT_BASE_URL)"
    return f"{listen}  ({ari}; {stt}; TTS {settings.tts_provider.value})"


def _payloads_summary(stack: Stack) -> str:
    keys = stack.keys
    if keys is None:
        return "unencrypted"
    where = str(keys.local_file) if keys.local_file else "PAYLOAD_KEYS/PAYLOAD_KEYS_FILE"
    allowed = parse_allow_list(stack.settings.codec_server_allow_ips)
    served = ", ".join(map(str, allowed)) or "token holders only"
    return (
        f"encrypted (key {keys.current} in {where}); the UI decrypts through "
        f"{codec_server_url(stack.settings)} for {served}"
    )


def banner(stack: Stack) -> str:
    settings = stack.settings
    token = settings.effective_store_api_token or "<STORE_API_TOKEN>"
    if stack.postgres is not None:
        pg_note = f"embedded, data in {stack.postgres.data_dir}"
    else:
        pg_note = "DATABASE_URL"
    rows = [
        ("Temporal UI", stack.temporal.ui_url),
        ("  payloads", _payloads_summary(stack)),
        ("Temporal", f"{stack.temporal.address}  (namespace {stack.temporal.namespace})"),
        ("Store API", settings.store_api_url),
        ("  token", f"{token}  (Authorization: Bearer …)"),
        ("PostgreSQL", f"{without_password(stack.database_url)}  ({pg_note})"),
        (
            "Workers" if stack.workers > 1 else "Worker",
            f"{stack.workers} × task queue {settings.temporal_task_queue}"
            if stack.workers > 1
            else f"task queue {settings.temporal_task_queue}",
        ),
        *((edge.name.capitalize(), _edge_summary(settings, edge)) for edge in stack.edges),
        ("Data", f"{stack.data_dir}  (kept between runs; `voiceorder up --reset` wipes it)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        "",
        "voiceorder is up — Ctrl-C stops everything",
        *(f"  {name:<{width}}  {value}" for name, value in rows),
        "",
        "Place a test call (text softphone through the real workflow):",
        "  ./dev chat --phone +79161234567      (Анна Смирнова, three active orders)",
        "Or a voice call into the edge (a script of caller phrases, see docs/simulator.md):",
        f"  ./dev call --script call.txt --port {settings.audiosocket_port} --rate 8000",
        "",
        "More capacity: `./dev worker` (or `./dev edge` with its own AUDIOSOCKET_PORT) in",
        f"another terminal joins this stack ({STACK_FILE_NOTE}).",
        "",
        "Try the Store API:",
        f"  curl -sG -H 'Authorization: Bearer {token}' \\",
        f"    --data-urlencode 'q=гречка' {settings.store_api_url}/products/search",
        "",
    ]
    return "\n".join(lines) + "\n"


async def _check_database(url: str) -> None:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise StackError(
            f"DATABASE_URL is set, but PostgreSQL at {without_password(url)} does not "
            f"answer: {exc}. Unset DATABASE_URL to use the embedded server."
        ) from exc
    await conn.close()


async def _run(stack: Stack, services: list[ServiceSpec]) -> int:
    if stack.postgres is None:
        await _check_database(stack.database_url)

    def show_banner() -> None:
        supervisor.console.write(banner(stack))

    supervisor = Supervisor(services, label="up", on_ready=show_banner)
    # Published before the start, so a process started by hand during it finds us too.
    write_stack_file(stack.data_dir, stack.shared_settings())
    try:
        return await supervisor.run()
    finally:
        remove_stack_file(stack.data_dir)


STACK_FILE_NOTE = "DATA_DIR/stack.json names this stack's addresses"


def _prepare_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).touch()


@click.command("up")
@click.option(
    "--reset",
    is_flag=True,
    help="Delete DATA_DIR first (embedded PostgreSQL and Temporal history) and start afresh.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_PROCESSES),
    default=1,
    show_default=True,
    help="Worker processes on the call task queue.",
)
@click.option(
    "--edges",
    type=click.IntRange(1, MAX_PROCESSES),
    default=1,
    show_default=True,
    help="Edge processes: ports AUDIOSOCKET_PORT, +1, …; with ARI, Stasis apps ARI_APP-1, -2, ….",
)
def up_command(reset: bool, workers: int, edges: int) -> None:
    """Run the whole local stack in the foreground (Ctrl-C stops it)."""
    settings = load_settings()
    stack = Stack.plan(settings, workers=workers, edges=edges)
    check_ports_free(stack.ports())
    if reset:
        reset_data_dir(stack)
    _prepare_data_dir(stack.data_dir)
    try:
        keys = prepare_stack_keys(settings, stack.data_dir)
    except ConfigurationError as exc:
        raise StackError(str(exc)) from None
    if keys.created:
        click.echo(f"first run: made a payload key in {keys.local_file}")
    stack = stack.with_keys(keys)
    try:
        services = stack_services(stack)
    except (EmbeddedPostgresError, TemporalDevServerError) as exc:
        raise StackError(str(exc)) from exc
    try:
        code = asyncio.run(_run(stack, services))
    except KeyboardInterrupt:
        # Ctrl-C before the supervisor took over the signal: nothing was started yet.
        code = 130
    raise SystemExit(code)
