"""The supervisor: order, prefixed output, failures named, nothing left behind."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.voiceorder.stack.supervised import wait_for_file
from voiceorder.stack.supervisor import Console, Restart, ServiceSpec, Supervisor

HERE = Path(__file__).parent
CHILD = HERE / "child.py"


def child(name: str, workdir: Path, *extra: str, **spec: object) -> ServiceSpec:
    ready_file = workdir / f"{name}.pid"
    return ServiceSpec(
        name,
        [sys.executable, str(CHILD), name, str(ready_file), *extra],
        ready=wait_for_file(ready_file),
        **spec,  # type: ignore[arg-type]
    )


async def run_until_ready(services: list[ServiceSpec]) -> tuple[int, str]:
    """Run the services, ask them to stop once all are ready; return (code, output)."""
    out = io.StringIO()
    supervisor: Supervisor

    def stop() -> None:
        supervisor.request_stop("test is done")

    supervisor = Supervisor(services, stream=out, on_ready=stop)
    code = await asyncio.wait_for(supervisor.run(handle_signals=False), 60)
    return code, out.getvalue()


def in_order(text: str, *parts: str) -> bool:
    positions = [text.find(part) for part in parts]
    return -1 not in positions and positions == sorted(positions)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent simply has not reaped it yet).
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_starts_in_order_prefixes_output_and_stops_in_reverse(tmp_path: Path) -> None:
    code, out = await run_until_ready([child("db", tmp_path), child("api", tmp_path)])

    assert code == 0, out
    assert in_order(
        out,
        "stack | starting db",
        "stack | db is ready",
        "stack | starting api",
        "stack | api is ready",
        "stack | test is done: stopping",
        "stack | stopping api",
        "stack | stopping db",
        "stack | stopped",
    ), out
    assert "db    | hello from db" in out
    assert "api   | bye from api" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


async def test_a_service_runs_at_the_niceness_it_asks_for_and_the_rest_at_ours(
    tmp_path: Path,
) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    seen: dict[str, int] = {}
    supervisor: Supervisor

    def inspect() -> None:
        for name in ("audio", "turns"):
            pid = int((tmp_path / f"{name}.pid").read_text())
            seen[name] = os.getpriority(os.PRIO_PROCESS, pid)
        supervisor.request_stop("inspected")

    services = [child("audio", tmp_path), child("turns", tmp_path, nice=5)]
    supervisor = Supervisor(services, stream=io.StringIO(), on_ready=inspect)
    assert await asyncio.wait_for(supervisor.run(handle_signals=False), 60) == 0
    assert seen == {"audio": ours, "turns": min(19, ours + 5)}


async def test_a_child_that_dies_stops_the_rest_and_is_named(tmp_path: Path) -> None:
    services = [
        child("db", tmp_path),
        child("api", tmp_path, "--exit-after", "0.5", "3"),
    ]
    out = io.StringIO()
    code = await asyncio.wait_for(Supervisor(services, stream=out).run(handle_signals=False), 60)

    text = out.getvalue()
    assert code == 1, text
    assert "api exited with code 3; stopping the rest" in text
    assert in_order(text, "api   | api gives up", "stopping db", "db    | bye from db")
    assert text.rstrip().endswith("api exited with code 3; stopping the rest")


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    stubborn = child("stubborn", tmp_path, "--ignore-term", stop_grace_s=0.5)
    started = time.monotonic()
    code, out = await run_until_ready([stubborn])

    assert code == 0, out
    assert "stubborn did not stop within 0.5s: killing" in out
    assert time.monotonic() - started < 30
    assert not alive(int((tmp_path / "stubborn.pid").read_text()))


async def test_a_second_interrupt_kills_without_waiting(tmp_path: Path) -> None:
    stubborn = child("stubborn", tmp_path, "--ignore-term", stop_grace_s=120)
    out = io.StringIO()
    supervisor: Supervisor

    def stop_twice() -> None:
        supervisor.request_stop("got SIGINT")
        asyncio.get_running_loop().call_later(0.5, supervisor.request_stop, "got SIGINT")

    supervisor = Supervisor([stubborn], stream=out, on_ready=stop_twice)
    code = await asyncio.wait_for(supervisor.run(handle_signals=False), 60)

    assert code == 0, out.getvalue()
    assert "got SIGINT again: killing what is left" in out.getvalue()
    assert not alive(int((tmp_path / "stubborn.pid").read_text()))


async def test_a_failed_one_shot_task_stops_the_start(tmp_path: Path) -> None:
    migrate = ServiceSpec(
        "migrate", [sys.executable, "-c", "print('no schema'); raise SystemExit(2)"], one_shot=True
    )
    code, out = await run_until_ready([child("db", tmp_path), migrate, child("api", tmp_path)])

    assert code == 1, out
    assert "migrate | no schema" in out
    assert "migrate failed: it exited with code 2" in out
    assert "starting api" not in out
    assert "stopping db" in out


async def test_a_successful_one_shot_task_lets_the_next_start(tmp_path: Path) -> None:
    seed = ServiceSpec("seed", [sys.executable, "-c", "print('seeded')"], one_shot=True)
    code, out = await run_until_ready([seed, child("api", tmp_path)])

    assert code == 0, out
    assert in_order(out, "seed  | seeded", "seed done", "starting api", "api is ready")


async def test_a_readiness_failure_and_a_timeout_are_reported(tmp_path: Path) -> None:
    async def broken(process: asyncio.subprocess.Process) -> None:
        raise RuntimeError("health says 503")

    async def never(process: asyncio.subprocess.Process) -> None:
        await asyncio.sleep(3600)

    sleeper = [sys.executable, "-c", "import time; time.sleep(3600)"]
    code, out = await run_until_ready([ServiceSpec("api", sleeper, ready=broken)])
    assert code == 1
    assert "api did not become ready: health says 503" in out

    code, out = await run_until_ready(
        [ServiceSpec("api", sleeper, ready=never, ready_timeout_s=0.3)]
    )
    assert code == 1
    assert "api was not ready within 0.3s" in out


async def test_a_command_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    code, out = await run_until_ready([ServiceSpec("ghost", [str(tmp_path / "no-such-binary")])])
    assert code == 1
    assert "ghost could not be started" in out


async def test_lines_are_filtered_only_while_stopping(tmp_path: Path) -> None:
    noisy = child("noisy", tmp_path, show_while_stopping=lambda line: "bye" not in line)
    code, out = await run_until_ready([noisy])
    assert code == 0, out
    assert "hello from noisy" in out
    assert "bye from noisy" not in out


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = Tty()
    Console(["up", "postgres"], tty).line("postgres", "ready")
    assert tty.getvalue() == "\x1b[35mpostgres |\x1b[0m ready\n"

    monkeypatch.setenv("NO_COLOR", "1")
    plain = Tty()
    Console(["up", "postgres"], plain).line("postgres", "ready")
    assert plain.getvalue() == "postgres | ready\n"


def test_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([ServiceSpec("stack", ["true"])])


# --- as a real program: signals ------------------------------------------------------------


def start_supervised(workdir: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "supervised.py"), str(workdir)],
        stdout=(workdir / "out.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (workdir / "ready").exists():
        assert process.poll() is None, (workdir / "out.log").read_text()
        assert time.monotonic() < deadline, "supervisor not ready in 60 s"
        time.sleep(0.05)
    return process


def child_pids(workdir: Path) -> list[int]:
    return [int((workdir / f"{name}.pid").read_text()) for name in ("first", "second")]


def wait_gone(pids: list[int], within_s: float = 30) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_sigint_stops_everything_and_exits_zero(tmp_path: Path) -> None:
    process = start_supervised(tmp_path)
    pids = child_pids(tmp_path)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, (tmp_path / "out.log").read_text()
    assert wait_gone(pids) == []
    out = (tmp_path / "out.log").read_text()
    assert in_order(out, "got SIGINT: stopping", "stopping second", "stopping first", "stopped")


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    process = start_supervised(tmp_path)
    pids = child_pids(tmp_path)
    process.kill()
    process.wait(timeout=30)
    assert wait_gone(pids) == []


async def wait_for(predicate: Callable[[], bool], within_s: float = 60) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():  # noqa: ASYNC110 - the supervisor's state has no event to wait on
            await asyncio.sleep(0.05)


async def test_a_restartable_child_that_is_killed_is_started_again_and_the_rest_keep_running(
    tmp_path: Path,
) -> None:
    """What `voiceorder up` does with a SIGKILLed worker: systemd's Restart=always."""
    quick = Restart(first_delay_s=0.1, burst=3, window_s=60)
    services = [child("db", tmp_path), child("worker", tmp_path, restart=quick)]
    out = io.StringIO()
    supervisor = Supervisor(services, stream=out)
    running = asyncio.create_task(supervisor.run(handle_signals=False))
    try:
        await wait_for(lambda: "worker is ready (pid" in out.getvalue())
        db, first = supervisor.pid_of("db"), supervisor.pid_of("worker")
        assert db is not None and first is not None
        os.kill(first, signal.SIGKILL)
        await wait_for(lambda: "worker is ready again" in out.getvalue())
        again = supervisor.pid_of("worker")
        assert again is not None and again != first and alive(again)
        assert supervisor.pid_of("db") == db and alive(db), "the rest kept running"
        supervisor.request_stop("test is done")
        code = await asyncio.wait_for(running, 60)
    finally:
        supervisor.request_stop("test is done")
        await asyncio.wait_for(running, 60)
    text = out.getvalue()
    assert code == 0, text
    assert in_order(
        text,
        "worker was killed by SIGKILL; restarting it in 0.1s",
        "restarting worker",
        f"worker is ready again (pid {again})",
        "stopping worker",
        "stopping db",
    ), text
    assert not alive(again)


async def test_a_child_that_keeps_exiting_is_given_up_on_with_a_clear_message(
    tmp_path: Path,
) -> None:
    flaky = child(
        "flaky",
        tmp_path,
        "--exit-after",
        "0.2",
        "3",
        restart=Restart(first_delay_s=0.05, burst=3, window_s=60),
    )
    out = io.StringIO()
    code = await asyncio.wait_for(
        Supervisor([child("db", tmp_path), flaky], stream=out).run(handle_signals=False), 60
    )

    text = out.getvalue()
    assert code == 1, text
    assert in_order(
        text,
        "flaky exited with code 3; restarting it in 0.05s",
        "flaky exited with code 3; restarting it in 0.1s",
        "flaky exited with code 3, 3 times within 60s: giving up on it; stopping the rest",
        "stopping db",
    ), text


async def test_a_restartable_child_that_fails_its_first_start_still_stops_the_stack(
    tmp_path: Path,
) -> None:
    """A service that was never ready is misconfigured: restarting would repeat the error."""
    broken = ServiceSpec(
        "broken",
        [sys.executable, "-c", "raise SystemExit(4)"],
        ready=wait_for_file(tmp_path / "never"),
        restart=Restart(first_delay_s=0.05),
    )
    code, out = await run_until_ready([broken])
    assert code == 1, out
    assert "broken exited with code 4 while starting; stopping the rest" in out
    assert "restarting" not in out


def test_restart_pauses_double_up_to_the_cap() -> None:
    policy = Restart(first_delay_s=1, max_delay_s=5)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    with pytest.raises(ValueError, match="inconsistent"):
        Restart(first_delay_s=10, max_delay_s=1)
