"""`voiceorder up`: the whole local stack in the foreground, with real parts only.

PostgreSQL (embedded unless DATABASE_URL is set), the Temporal dev server with its Web UI,
the codec server that decrypts payloads for that UI, the reference Store API (seeded on
first run), the worker and the AudioSocket/ARI edge.
Everything local lives in DATA_DIR and is reused by the next run; `--reset` starts afresh.
A new service is one more `ServiceSpec` in `stack_services`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import click
import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from core.settings import ConfigurationError, Settings, get_settings
from core.temporal import connect
from voiceorder.stack.payload_key import StackKeys, prepare_stack_keys
from voiceorder.stack.postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    ensure_database,
)
from voiceorder.stack.supervisor import ReadyCheck, Say, ServiceSpec, Supervisor
from voiceorder.stack.temporal import TemporalDevServer, TemporalDevServerError, split_address

DATABASE = "voiceorder"
# Written into DATA_DIR so that `--reset` never deletes a folder that is not ours.
MARKER = ".voiceorder-data"


class StackError(click.ClickException):
    """The stack cannot start; the message says why and what to change."""


@dataclass(frozen=True)
class PortNeed:
    host: str
    port: int
    setting: str


@dataclass(frozen=True)
class Stack:
    """What `up` runs, worked out from the settings before anything starts."""

    settings: Settings
    data_dir: Path
    postgres: EmbeddedPostgres | None  # None: DATABASE_URL names an existing server
    database_url: str
    temporal: TemporalDevServer
    keys: StackKeys | None = None  # set by `up` once DATA_DIR exists (with_keys)

    @classmethod
    def plan(cls, settings: Settings) -> Stack:
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
        if settings.database_url:
            return cls(settings, data_dir, None, settings.database_url, temporal)
        postgres = EmbeddedPostgres(data_dir / "postgres", settings.embedded_pg_port)
        return cls(settings, data_dir, postgres, postgres.url(DATABASE), temporal)

    def ports(self) -> list[PortNeed]:
        needs = []
        if self.postgres is not None:
            needs.append(PortNeed("127.0.0.1", self.postgres.port, "EMBEDDED_PG_PORT"))
        needs += [
            PortNeed(self.temporal.host, self.temporal.port, "TEMPORAL_ADDRESS"),
            PortNeed(self.temporal.host, self.temporal.ui_port, "TEMPORAL_UI_PORT"),
            PortNeed(
                self.settings.codec_server_host,
                self.settings.codec_server_port,
                "CODEC_SERVER_PORT",
            ),
            PortNeed(self.settings.store_api_host, self.settings.store_api_port, "STORE_API_PORT"),
            PortNeed(
                self.settings.audiosocket_host, self.settings.audiosocket_port, "AUDIOSOCKET_PORT"
            ),
        ]
        return needs

    def with_keys(self, keys: StackKeys) -> Stack:
        return dataclasses.replace(self, keys=keys)

    def child_env(self) -> dict[str, str]:
        """Our children read the same settings; pass what `up` decided explicitly."""
        settings = self.settings
        local_key = self.keys.local_file if self.keys else None
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal.address,
            "TEMPORAL_NAMESPACE": self.temporal.namespace,
            "TEMPORAL_UI_PORT": str(self.temporal.ui_port),
            "STORE_API_URL": settings.store_api_url,
            "STORE_API_HOST": settings.store_api_host,
            "STORE_API_PORT": str(settings.store_api_port),
            "AUDIOSOCKET_HOST": settings.audiosocket_host,
            "AUDIOSOCKET_PORT": str(settings.audiosocket_port),
            "CODEC_SERVER_HOST": settings.codec_server_host,
            "CODEC_SERVER_PORT": str(settings.codec_server_port),
            **({"PAYLOAD_KEYS_FILE": str(local_key)} if local_key else {}),
        }


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
    services: list[ServiceSpec] = []
    if stack.postgres is not None:
        services.append(postgres_service(stack.postgres))
    services += [
        temporal_service(stack.temporal),
        ServiceSpec(
            "codec-server",
            _voiceorder("codec-server"),
            env=env,
            ready=_http_ready(f"{codec_server_url(stack.settings)}/health"),
        ),
        ServiceSpec("seed", _voiceorder("store-api", "seed"), env=env, one_shot=True),
        ServiceSpec(
            "store-api",
            _voiceorder("store-api", "serve"),
            env=env,
            ready=_http_ready(f"{stack.settings.store_api_url}/health"),
        ),
        ServiceSpec(
            "worker",
            _voiceorder("worker"),
            env=env,
            ready=_worker_polling(stack.settings),
        ),
        ServiceSpec(
            "edge",
            _voiceorder("edge"),
            env=env,
            ready=_listening(stack.settings.audiosocket_host, stack.settings.audiosocket_port),
        ),
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
    """Ready when Temporal sees the worker polling the call task queue."""

    async def ready(process: asyncio.subprocess.Process) -> None:
        client = await connect(settings)
        request = DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        while process.returncode is None:
            described = await client.workflow_service.describe_task_queue(request)
            if described.pollers:
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


def _edge_summary(settings: Settings) -> str:
    listen = f"AudioSocket {settings.audiosocket_host}:{settings.audiosocket_port}"
    ari = f"ARI {settings.ari_url}" if settings.ari_url else "no ARI (dialplan AudioSocket())"
    stt = "STT on" if settings.stt_base_url else "no STT: callers hear an apology (STT_BASE_URL)"
    return f"{listen}  ({ari}; {stt}; TTS {settings.tts_provider.value})"


def _payloads_summary(stack: Stack) -> str:
    keys = stack.keys
    if keys is None:
        return "unencrypted"
    where = str(keys.local_file) if keys.local_file else "PAYLOAD_KEYS/PAYLOAD_KEYS_FILE"
    served = ", ".join(stack.settings.codec_server_allow_ips.split(",")) or "token holders"
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
        ("Worker", f"task queue {settings.temporal_task_queue}"),
        ("Edge", _edge_summary(settings)),
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
    return await supervisor.run()


def _prepare_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).touch()


@click.command("up")
@click.option(
    "--reset",
    is_flag=True,
    help="Delete DATA_DIR first (embedded PostgreSQL and Temporal history) and start afresh.",
)
def up_command(reset: bool) -> None:
    """Run the whole local stack in the foreground (Ctrl-C stops it)."""
    settings = get_settings()
    stack = Stack.plan(settings)
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
