"""CPU seconds spent by the processes a benchmark runs, to say where the time goes.

Read from /proc (Linux); elsewhere every figure is None rather than a guess.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def process_cpu_s(pid: int | None = None) -> float | None:
    """User + system CPU of a process so far (this one when None)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def postgres_backends_cpu_s(database_url: str) -> dict[int, float] | None:
    """CPU so far of each PostgreSQL backend connected to this database, by pid. None when
    the server is not on this machine (its pids would name other processes here)."""
    if urlsplit(database_url).hostname not in _LOCAL_HOSTS:
        return None
    conn = await asyncpg.connect(database_url)
    try:
        pids = await conn.fetch(
            """SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
    finally:
        await conn.close()
    found = {row["pid"]: process_cpu_s(row["pid"]) for row in pids}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def backends_spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """CPU the backends spent between two readings; a backend that started in between
    counts from zero (one that ended in between is not counted: pools keep theirs)."""
    if before is None or after is None:
        return None
    return round(sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()), 2)


def spent(before: float | None, after: float | None) -> float | None:
    return round(after - before, 2) if before is not None and after is not None else None


def child_pid(name: str) -> int | None:
    """The pid of this process's child whose command name is `name` (e.g. the Temporal dev
    server the test helpers start); None when there is none or /proc is not there."""
    me = os.getpid()
    try:
        entries = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        command = stat[stat.find("(") + 1 : stat.rfind(")")]
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == me and command == name:
            return int(entry)
    return None


def process_cpu_wait_s(pid: int | None = None) -> float | None:
    """Seconds the threads of a process spent runnable but waiting for a CPU, so far
    (/proc/<pid>/task/*/schedstat, summed over threads): on a box shared with other work,
    the part of a latency that is queueing for a core, not our code."""
    root = Path(f"/proc/{pid or os.getpid()}/task")
    try:
        tasks = list(root.iterdir())
    except OSError:
        return None
    waited_ns = 0
    for task in tasks:
        try:
            waited_ns += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return waited_ns / 1e9
