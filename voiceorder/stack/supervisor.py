"""Run a list of services as child processes in the foreground, like a tiny Procfile runner.

Services start in order, each waiting for the previous one to be ready, and stop in reverse
order. Every output line of a child is shown with its name in front (`temporal | ...`),
coloured on a terminal. Each child lives in its own process group, so a Ctrl-C in the
terminal reaches only us and the shutdown order holds; `die_with_parent` takes the children
down even if we are killed with SIGKILL.

A child that exits on its own is handled as systemd would handle its unit: a service with a
`Restart` policy (the stateless ones: workers, edges) is started again after a growing pause
while the rest keep running — a worker killed mid-call must not take the phone line down —
and given up on, stopping the stack with a message naming it, after too many exits in a short
time (`StartLimitBurst` within `StartLimitIntervalSec`). A service without one (the
databases), or one that fails before it was ever ready, stops the rest at once and `run`
returns non-zero with a message naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from voiceorder.stack.process import child_setup

T = TypeVar("T")

ReadyCheck = Callable[[asyncio.subprocess.Process], Awaitable[None]]
Say = Callable[[str], None]
# Gets a function that prints a line under the service's own name.
Prepare = Callable[[Say], Awaitable[None]]

_PALETTE = ("36", "35", "33", "32", "34", "96", "95", "93")
_RED = "31"
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Restart:
    """systemd's `Restart=always`: the pause before a restart doubles from `first_delay_s` up
    to `max_delay_s` with each exit inside the window; `burst` exits within `window_s`
    seconds give up on the service (`StartLimitBurst`, `StartLimitIntervalSec`)."""

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    burst: int = 5
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.burst < 1 or self.first_delay_s < 0 or self.max_delay_s < self.first_delay_s:
            raise ValueError(f"inconsistent restart policy: {self}")

    def delay_s(self, recent_exits: int) -> float:
        """The pause before the restart that follows the `recent_exits`-th exit (1-based)."""
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** max(0, recent_exits - 1))


@dataclass(frozen=True)
class ServiceSpec:
    """One child process of the stack."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] | None = None
    # Awaited after the start; the service counts as started when it returns.
    ready: ReadyCheck | None = None
    ready_timeout_s: float = 60.0
    # Awaited before the start: one-time setup such as initdb or creating folders.
    prepare: Prepare | None = None
    # A one-shot task (migrations, seeding) must exit 0 before the next service starts.
    one_shot: bool = False
    stop_signal: signal.Signals = signal.SIGTERM
    stop_grace_s: float = 10.0
    # While it stops, only lines this accepts are shown: for servers whose shutdown is
    # known to be noisy (the Temporal dev server warns about every closed poller).
    show_while_stopping: Callable[[str], bool] | None = None
    # Extra subprocess arguments (user, group, cwd).
    popen: Mapping[str, Any] = field(default_factory=dict)
    # Started again when it exits after it was ready; None: its exit stops the stack.
    restart: Restart | None = None
    # Added to the child's niceness: a service that must not take the CPU from the calls'
    # audio when the box is full (core/cpu_priority.py, BACKGROUND_NICE).
    nice: int = 0


class Console:
    """Prefixed, optionally coloured lines on one stream, aligned on the longest name."""

    def __init__(self, names: Sequence[str], stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._width = max((len(name) for name in names), default=0)
        self._colour = _wants_colour(self._stream)
        self._colours = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}

    def line(self, name: str, text: str, *, error: bool = False) -> None:
        prefix = f"{name:<{self._width}} |"
        if self._colour:
            code = _RED if error else self._colours.get(name, "0")
            prefix = f"\x1b[{code}m{prefix}\x1b[0m"
            if error:
                text = f"\x1b[{_RED}m{text}\x1b[0m"
        self.write(f"{prefix} {text}\n")

    def write(self, text: str) -> None:
        # A closed pipe (`voiceorder up | head`) must not take the stack down with it.
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._stream.write(text)
            self._stream.flush()


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class _Interrupted(Exception):
    """Startup was cut short by a signal or by another child's exit."""


@dataclass
class _Child:
    spec: ServiceSpec
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None] = field(init=False)
    started: bool = False
    stopping: bool = False
    restarted: bool = False  # a restart of a service that was ready before


class Supervisor:
    def __init__(
        self,
        services: Sequence[ServiceSpec],
        *,
        label: str = "stack",
        stream: TextIO | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        names = [label, *(spec.name for spec in services)]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique: {names}")
        self._services = list(services)
        self._label = label
        self.console = Console(names, stream)
        self._on_ready = on_ready
        self._children: list[_Child] = []
        self._watchers: set[asyncio.Task[None]] = set()
        self._trouble = asyncio.Event()
        self._failure: str | None = None
        self._signal: str | None = None
        self._stopping = False
        # Loop times of each restartable service's recent exits (within its window).
        self._exits: dict[str, deque[float]] = {}

    def pid_of(self, name: str) -> int | None:
        """The pid of the running process of service `name` (None if it is not running)."""
        for child in self._children:
            if child.spec.name == name and child.process.returncode is None:
                return child.process.pid
        return None

    def say(self, text: str, *, error: bool = False) -> None:
        self.console.line(self._label, text, error=error)

    def _sayer(self, name: str) -> Say:
        def say(text: str) -> None:
            self.console.line(name, text)

        return say

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop the stack as if interrupted; a second request while stopping kills."""
        if self._stopping:
            self.say(f"{reason} again: killing what is left")
            for child in self._children:
                _kill_group(child.process)
            return
        if self._signal is None:
            self._signal = reason
        self._trouble.set()

    async def run(self, *, handle_signals: bool = True) -> int:
        """Start everything, wait for a signal or a failure, stop everything; 0 if clean."""
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop, f"got {sig.name}")
                handled.append(sig)
        try:
            await self._start_all()
            if not self._trouble.is_set():
                if self._on_ready is not None:
                    self._on_ready()
                await self._trouble.wait()
        finally:
            self._stopping = True
            if self._signal is not None and self._failure is None:
                self.say(f"{self._signal}: stopping")
            await self._stop_all()
            for sig in handled:
                loop.remove_signal_handler(sig)
        if self._failure is not None:
            self.say(self._failure, error=True)
            return 1
        self.say("stopped")
        return 0

    async def _start_all(self) -> None:
        for spec in self._services:
            try:
                await self._start(spec)
            except _Interrupted:
                return
            if self._failure is not None:
                return

    async def _start(self, spec: ServiceSpec) -> None:
        self.say(f"starting {spec.name}")
        if spec.prepare is not None:
            try:
                await self._unless_interrupted(spec.prepare(self._sayer(spec.name)))
            except _Interrupted:
                raise
            except Exception as exc:
                self._fail(f"{spec.name} could not be prepared: {exc}")
                return
        child = await self._spawn(spec)
        if child is None:
            return
        if spec.one_shot:
            await self._finish_one_shot(child)
            return
        self._watch_child(child)
        if spec.ready is not None:
            try:
                await self._unless_interrupted(
                    asyncio.wait_for(spec.ready(child.process), spec.ready_timeout_s)
                )
            except _Interrupted:
                raise
            except TimeoutError:
                self._fail(f"{spec.name} was not ready within {spec.ready_timeout_s:g}s")
                return
            except Exception as exc:
                if self._failure is None:
                    self._fail(f"{spec.name} did not become ready: {exc}")
                return
        child.started = True
        self.say(f"{spec.name} is ready (pid {child.process.pid})")

    async def _spawn(self, spec: ServiceSpec, *, replacing: _Child | None = None) -> _Child | None:
        kwargs: dict[str, Any] = {
            "stdin": asyncio.subprocess.DEVNULL,
            "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.STDOUT,
            "process_group": 0,
            "preexec_fn": child_setup(spec.stop_signal, spec.nice),
            **spec.popen,
        }
        if spec.env is not None:
            kwargs["env"] = dict(spec.env)
        try:
            process = await asyncio.create_subprocess_exec(*spec.command, **kwargs)
        except OSError as exc:
            self._fail(f"{spec.name} could not be started ({spec.command[0]}): {exc}")
            return None
        assert process.stdout is not None  # we asked for a pipe
        child = _Child(spec, process)
        child.pump = asyncio.create_task(self._pump(child, process.stdout))
        if replacing is not None and replacing in self._children:
            # Same place in the list: the stop order stays the start order reversed.
            self._children[self._children.index(replacing)] = child
        else:
            self._children.append(child)
        return child

    async def _finish_one_shot(self, child: _Child) -> None:
        returncode = await self._unless_interrupted(child.process.wait())
        await self._drain(child)
        self._children.remove(child)
        if returncode != 0:
            self._fail(f"{child.spec.name} failed: it {describe_exit(returncode)}")
        else:
            self.say(f"{child.spec.name} done")

    def _watch_child(self, child: _Child) -> None:
        watcher = asyncio.create_task(self._watch(child), name=f"watch-{child.spec.name}")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, child: _Child) -> None:
        returncode = await child.process.wait()
        if child.stopping or self._stopping:
            return
        spec = child.spec
        if spec.restart is None or not (child.started or child.restarted):
            # A service that never got ready is misconfigured: restarting it would only
            # repeat the error. One without a policy holds state the rest depend on.
            when = "" if child.started else " while starting"
            self._fail(f"{spec.name} {describe_exit(returncode)}{when}; stopping the rest")
            return
        await self._restart(child, spec.restart, describe_exit(returncode))

    async def _restart(self, child: _Child, policy: Restart, how: str) -> None:
        spec = child.spec
        now = asyncio.get_running_loop().time()
        exits = self._exits.setdefault(spec.name, deque())
        exits.append(now)
        while exits and now - exits[0] > policy.window_s:
            exits.popleft()
        if len(exits) >= policy.burst:
            self._fail(
                f"{spec.name} {how}, {len(exits)} times within {policy.window_s:g}s: "
                "giving up on it; stopping the rest"
            )
            return
        delay = policy.delay_s(len(exits))
        self.say(f"{spec.name} {how}; restarting it in {delay:g}s", error=True)
        try:
            await self._unless_interrupted(asyncio.sleep(delay))
        except _Interrupted:
            return
        _kill_group(child.process)  # whatever it left in its group goes with it
        await self._drain(child)
        self.say(f"restarting {spec.name}")
        new = await self._spawn(spec, replacing=child)
        if new is None:
            return  # could not even be spawned: _spawn failed the stack
        new.restarted = True
        self._watch_child(new)
        if spec.ready is not None:
            try:
                await self._unless_interrupted(
                    asyncio.wait_for(spec.ready(new.process), spec.ready_timeout_s)
                )
            except _Interrupted:
                return
            except Exception as exc:
                # Its exit (now, or after this kill) counts as one more: the policy decides.
                reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
                self.say(f"{spec.name} did not become ready again: {reason}", error=True)
                _kill_group(new.process)
                return
        new.started = True
        self.say(f"{spec.name} is ready again (pid {new.process.pid})")

    def _fail(self, message: str) -> None:
        if self._failure is None:
            self._failure = message
            # Said now, so it is next to the child's last lines, and again at the very end.
            self.say(message, error=True)
        self._trouble.set()

    async def _unless_interrupted(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` unless a signal or a failure comes first."""
        work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
        trouble = asyncio.create_task(self._trouble.wait())
        waiters: set[asyncio.Future[Any]] = {work, trouble}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            trouble.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        raise _Interrupted

    async def _pump(self, child: _Child, stream: asyncio.StreamReader) -> None:
        pending = b""
        while chunk := await stream.read(_READ_CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                self._show(child, _decode(raw))
        if pending:
            self._show(child, _decode(pending))

    def _show(self, child: _Child, text: str) -> None:
        accept = child.spec.show_while_stopping
        if child.stopping and accept is not None and not accept(text):
            return
        self.console.line(child.spec.name, text)

    async def _stop_all(self) -> None:
        # Watchers first: a restart in progress must not start a process behind our back.
        watchers = list(self._watchers)
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for child in reversed(self._children):
            await self._stop(child)
        self._children.clear()

    async def _stop(self, child: _Child) -> None:
        child.stopping = True
        process, spec = child.process, child.spec
        if process.returncode is None:
            self.say(f"stopping {spec.name}")
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(spec.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), spec.stop_grace_s)
            except TimeoutError:
                self.say(f"{spec.name} did not stop within {spec.stop_grace_s:g}s: killing")
        # Whatever the child left in its group goes too.
        _kill_group(process)
        await process.wait()
        await self._drain(child)

    async def _drain(self, child: _Child) -> None:
        # A grandchild that inherited the pipe could keep it open forever.
        try:
            await asyncio.wait_for(asyncio.shield(child.pump), 5)
        except TimeoutError:
            child.pump.cancel()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")
