"""B2: many calls at once on one box — turn overhead against a single call, and capacity.

Everything real runs on this machine: PostgreSQL, the Store API process, the Temporal dev
server and **one worker process** (`voiceorder worker`, as in production); the model is the
test fake (an OpenAI-compatible HTTP server) answering every request after `model_latency`.
This process plays the edge: each simulated call starts with update-with-start (the
greeting) and says its turns as `caller_said` updates through `workflows.client.CallSession`,
the same code the edge runs, a caller turn every ~`think` seconds (uniform in ±25 %), and
hangs up. Calls of one level start spread over the first think time, so the load is steady.

Per agent (guided, LLM): a **single call** alone (`baseline_calls` of them, one after
another) — the baseline — then N concurrent calls for each N in `levels`. A turn's
**overhead** is its `caller_said` round trip minus the fake model's deliberate latency for
the requests it made in that turn; everything else — Temporal, the worker, PostgreSQL, the
Store API, all on this box — is the system's own time. Reported per level: p50/p95 of the
round trip and the overhead, p95 overhead against the single call's, turns per second, the
greeting's round trip, failed calls, and the CPU of the worker, the Temporal server, the
Store API, the PostgreSQL backends and this process (the callers and the fake model).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.children import worker_env, worker_polling
from bench.cpu import (
    backends_spent,
    child_pid,
    postgres_backends_cpu_s,
    process_cpu_s,
    process_cpu_wait_s,
    spent,
)
from core.vocabulary import Action, AgentMode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "calls.json"
LEVELS = (25, 50, 100, 200)
CAPACITY_P95_MS = 250.0  # the p95 overhead that marks a box as full (quality.md B2)
TARGET_LEVEL, TARGET_RATIO = 100, 2.0  # p95 overhead at N = 100 ≤ 2 × a single call's
STOCK = 1_000_000  # every call orders: no order may fail on stock
CALL_END_TIMEOUT_S = 120.0  # post-call work (SMS, call log) after the last turn


@dataclass
class CallRun:
    greeting_ms: float | None = None
    round_trips_ms: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    error: str | None = None


def _stats(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


@dataclass
class Stack:
    """What every call needs: the Temporal client, the fake model and its request counter."""

    client: Any  # temporalio.client.Client
    queue: str
    llm: Any  # tests.support.fake_llm.FakeLLM
    requests: Any  # bench.call_scripts.ModelRequests
    model_latency_ms: float
    turns: int
    think_s: float


async def _one_call(stack: Stack, agent: AgentMode, phone: str, start_after: float) -> CallRun:
    from bench.call_scripts import SCRIPTS
    from workflows.client import CallSession
    from workflows.models import CallStart

    script = SCRIPTS[agent][: stack.turns]
    call_id = f"call-b2-{uuid.uuid4()}"
    stack.llm.script(call_id, stack.requests.script(call_id, script))
    rng = random.Random(call_id)
    run = CallRun()
    await asyncio.sleep(start_after)
    try:
        started = time.perf_counter()
        session = await CallSession.start(
            stack.client,
            stack.queue,
            CallStart(caller_number=phone, source="test", agent=agent),
            call_id=call_id,
        )
        run.greeting_ms = (time.perf_counter() - started) * 1000
        action = Action.CONTINUE
        for turn in script:
            await asyncio.sleep(stack.think_s * rng.uniform(0.75, 1.25))
            asked = stack.requests[call_id]
            started = time.perf_counter()
            reply = await session.say(turn.caller)
            round_trip = (time.perf_counter() - started) * 1000
            model_ms = (stack.requests[call_id] - asked) * stack.model_latency_ms
            run.round_trips_ms.append(round_trip)
            run.overheads_ms.append(round_trip - model_ms)
            action = reply.action
            if action is not Action.CONTINUE:
                break
        if action is Action.CONTINUE:
            await session.hang_up()
        async with asyncio.timeout(CALL_END_TIMEOUT_S):
            await session.result()
    except Exception as exc:  # a failed call is reported, not fatal to the benchmark
        run.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return run


class Cpu:
    """CPU seconds of the processes on the box, read before and after a phase."""

    def __init__(self, pids: dict[str, int | None], database_url: str) -> None:
        self.pids = pids
        self.database_url = database_url

    async def read(self) -> dict[str, Any]:
        now: dict[str, Any] = {name: process_cpu_s(pid) for name, pid in self.pids.items()}
        now["callers_and_fake_model"] = process_cpu_s()
        now["postgres"] = await postgres_backends_cpu_s(self.database_url)
        return now

    def read_waits(self) -> dict[str, float | None]:
        return {name: process_cpu_wait_s(pid) for name, pid in self.pids.items() if pid}

    @staticmethod
    def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | None]:
        used: dict[str, float | None] = {
            name: spent(before[name], after[name]) for name in before if name != "postgres"
        }
        used["postgres"] = backends_spent(before["postgres"], after["postgres"])
        return used


async def _phase(
    stack: Stack,
    cpu: Cpu,
    agent: AgentMode,
    calls: int,
    phones: Callable[[], str],
    concurrent: bool,
    profile: Callable[[float], Awaitable[Path]] | None = None,
) -> dict[str, Any]:
    before, waits_before = await cpu.read(), cpu.read_waits()
    started = time.perf_counter()
    sampled: Path | None = None
    if concurrent:
        spread = [
            random.Random(f"{agent}-{calls}-{i}").uniform(0, stack.think_s) for i in range(calls)
        ]
        work = asyncio.gather(*(_one_call(stack, agent, phones(), s) for s in spread))
        if profile is not None:
            # the middle of the level, when every call is in: its steady state
            expected = stack.think_s * (stack.turns + 1)
            await asyncio.sleep(stack.think_s)
            sampled = await profile(max(1.0, expected - 2 * stack.think_s))
        runs = list(await work)
    else:
        runs = [await _one_call(stack, agent, phones(), 0.0) for _ in range(calls)]
    wall = time.perf_counter() - started
    used = Cpu.spent(before, await cpu.read())
    waited = {name: spent(waits_before[name], after) for name, after in cpu.read_waits().items()}
    stack.llm.exchanges.clear()  # the fake keeps every request body; a level is done with them
    round_trips = [x for r in runs for x in r.round_trips_ms]
    overheads = [x for r in runs for x in r.overheads_ms]
    errors = [r.error for r in runs if r.error]
    found: dict[str, Any] = {
        "agent": agent.value,
        "single": not concurrent,  # the baseline: calls one after another
        "calls": calls if concurrent else 1,
        "calls_run": len(runs),
        "turns": len(round_trips),
        "wall_s": round(wall, 1),
        "turns_per_s": round(len(round_trips) / wall, 2),
        "round_trip": _stats(round_trips),
        "overhead": _stats(overheads),
        "greeting": _stats([r.greeting_ms for r in runs if r.greeting_ms is not None]),
        "failed_calls": len(errors),
        "errors": sorted(set(errors))[:5],
        "cpu_s": used,
        # thread-seconds runnable but waiting for a core: the box's contention, not our code
        "waiting_for_cpu_s": waited,
        "cpu_ms_per_turn": {
            name: round(1000 * value / len(round_trips), 1)
            if value is not None and round_trips
            else None
            for name, value in used.items()
        },
    }
    if sampled is not None:
        from bench.profile_summary import summarise

        summary = summarise(sampled, top=15)
        found["worker_profile"] = {
            "file": str(sampled),
            "samples": summary.samples,
            "top_inclusive_pct": summary.inclusive,
            "top_self_pct": summary.self_time,
        }
    return found


@asynccontextmanager
async def _worker(
    env: dict[str, str], log: Path, ready: Callable[[], Awaitable[bool]]
) -> AsyncIterator[int]:
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voiceorder",
            "worker",
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with asyncio.timeout(120):
            while not await ready():
                if process.returncode is not None:
                    raise RuntimeError(f"the worker exited with {process.returncode}: see {log}")
                await asyncio.sleep(0.2)
        yield process.pid
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


def _py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


def _profiler(pid: int, folder: Path, name: str) -> Callable[[float], Awaitable[Path]]:
    """Samples the worker with py-spy for a while; the raw stacks go to `folder`
    (`python -m bench.profile_summary FILE` ranks them; flamegraph.pl draws them)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"

    async def record(seconds: float) -> Path:
        spy = await asyncio.create_subprocess_exec(
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--nonblocking",
            "--threads",
            "--format",
            "raw",
            "--output",
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await spy.wait()
        return path

    return record


async def run(
    levels: tuple[int, ...],
    agents: tuple[AgentMode, ...],
    *,
    turns: int,
    think_s: float,
    model_latency_s: float,
    baseline_calls: int,
    output: Path,
    profile: bool = False,
) -> dict[str, Any]:
    # Benchmarks run from a checkout and reuse the test suite's real servers and fakes.
    sys.path.insert(0, str(PROJECT_ROOT))

    from bench.call_scripts import ModelRequests
    from tests.support.fake_llm import FakeLLM
    from tests.support.payload_keys import TEST_DATA_CONVERTER, key_env
    from tests.support.servers import postgres_database, store_api_server
    from tests.support.shelves import stock_every_product
    from tests.support.temporal import temporal_dev_server

    load_before = os.getloadavg()[0]
    numbers = iter(range(3_000_000, 9_999_999))
    worker_log = output.with_name(f"{output.stem}_worker.log")
    worker_log.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="vo-bench-calls-") as tmp:
        async with (
            postgres_database(Path(tmp)) as database_url,
            store_api_server(database_url) as store_api,
            FakeLLM() as llm,
            temporal_dev_server(data_converter=TEST_DATA_CONVERTER) as temporal,
        ):
            llm.set_latency(model_latency_s)
            await stock_every_product(database_url, STOCK)

            queue = f"bench-calls-{uuid.uuid4().hex[:6]}"
            env = {
                **os.environ,
                # Payloads are encrypted, as in production (the codec's cost is in the turn).
                **key_env(),
                **worker_env(
                    database_url=database_url,
                    store_api=store_api,
                    llm=llm,
                    temporal=temporal,
                    queue=queue,
                ),
            }
            polling = worker_polling(temporal.client, queue)
            async with _worker(env, worker_log, polling) as worker_pid:
                stack = Stack(
                    client=temporal.client,
                    queue=queue,
                    llm=llm,
                    requests=ModelRequests(),
                    model_latency_ms=model_latency_s * 1000,
                    turns=turns,
                    think_s=think_s,
                )
                cpu = Cpu(
                    {
                        "worker": worker_pid,
                        "temporal": child_pid("temporal"),
                        "store_api": store_api.process.pid,
                    },
                    database_url,
                )

                def phone() -> str:
                    return f"+7985{next(numbers):07d}"

                # Warm-up: the worker's first calls load what it loads lazily.
                await asyncio.gather(
                    *(_one_call(replace(stack, think_s=0.0), a, phone(), 0.0) for a in agents)
                )
                for agent in agents:
                    single = await _phase(stack, cpu, agent, baseline_calls, phone, False)
                    loaded = []
                    for n in levels:
                        spy = (
                            _profiler(
                                worker_pid,
                                output.with_name(f"{output.stem}_profile"),
                                f"{agent.value}-{n}",
                            )
                            if profile
                            else None
                        )
                        loaded.append(await _phase(stack, cpu, agent, n, phone, True, spy))
                    results[agent.value] = _verdicts(single, loaded)

    return {
        "benchmark": "B2 concurrent calls",
        "levels": list(levels),
        "turns_per_call": turns,
        "think_s": think_s,
        "model_latency_ms": round(model_latency_s * 1000),
        "baseline_calls": baseline_calls,
        "agents": results,
        "problems": [
            f"{agent}: {level['failed_calls']} of {level['calls_run']} calls failed at N ="
            f" {level['calls']}: {level['errors']}"
            for agent, found in results.items()
            for level in [found["single"], *found["levels"]]
            if level["failed_calls"]
        ],
        "machine": {
            "cpus": os.cpu_count(),
            "postgres": "DATABASE_URL server"
            if os.environ.get("DATABASE_URL")
            else "embedded, fsync=off, synchronous_commit=off",
            "temporal": "dev server, in-memory SQLite",
            "load_avg_1m_before": round(load_before, 2),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _p95(level: dict[str, Any]) -> float | None:
    overhead = level["overhead"]
    return overhead["p95_ms"] if overhead else None


def _verdicts(single: dict[str, Any], levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Each level against the single call, the capacity, and the target."""
    base = _p95(single)
    for level in levels:
        p95 = _p95(level)
        level["p95_overhead_vs_single"] = round(p95 / base, 2) if p95 is not None and base else None
    over = [level["calls"] for level in levels if (_p95(level) or 0) > CAPACITY_P95_MS]
    under = [level["calls"] for level in levels if level["calls"] not in over]
    at_target = next((level for level in levels if level["calls"] == TARGET_LEVEL), None)
    ratio = at_target["p95_overhead_vs_single"] if at_target else None
    return {
        "single": single,
        "levels": levels,
        # the first N measured whose p95 overhead passed CAPACITY_P95_MS (None: none did)
        "p95_passes_250ms_at": min(over, default=None),
        "largest_n_under_250ms": max(
            (n for n in under if n < min(over, default=10**9)), default=None
        ),
        "target": {
            "n": TARGET_LEVEL,
            "p95_overhead_ratio_max": TARGET_RATIO,
            "ratio": ratio,
            "met": None if ratio is None else ratio <= TARGET_RATIO,
        },
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"B2: N concurrent calls, {result['turns_per_call']} turns each, a turn every"
        f" ~{result['think_s']} s; fake model {result['model_latency_ms']} ms per request;"
        " overhead = round trip − model time",
        "",
        "| agent | N | turns | round trip p50 / p95 ms | **overhead p50 / p95 ms** | p95 vs single"
        " | turns/s | greeting p95 ms | CPU % of a core: worker / Temporal / PostgreSQL /"
        " Store API / callers | waiting for a core, % of wall: worker / Temporal | failed calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for agent, found in result["agents"].items():
        for level in [found["single"], *found["levels"]]:
            lines.append(_row(agent, level))
    lines.append("")
    for agent, found in result["agents"].items():
        target = found["target"]
        met = {None: "not measured", True: "met", False: "**missed**"}[target["met"]]
        passes = found["p95_passes_250ms_at"]
        largest = max(result["levels"], default=0)
        where = f"N = {passes}" if passes is not None else f"no N up to {largest}"
        lines.append(
            f"- {agent}: p95 overhead passes {CAPACITY_P95_MS:.0f} ms at {where};"
            f" at N = {target['n']} it is {target['ratio']} × the single call's"
            f" (target ≤ {target['p95_overhead_ratio_max']} ×: {met})"
        )
    machine = result["machine"]
    lines += [
        "",
        f"box: {machine['cpus']} CPUs; PostgreSQL {machine['postgres']}; Temporal"
        f" {machine['temporal']}; load average (1 min) {machine['load_avg_1m_before']} before,"
        f" {machine['load_avg_1m_after']} after",
    ]
    if result["problems"]:
        lines += ["", "**FAILED:** " + "; ".join(result["problems"])]
    return "\n".join(lines)


def _row(agent: str, level: dict[str, Any]) -> str:
    def pair(stats: dict[str, float] | None) -> str:
        return f"{stats['p50_ms']} / {stats['p95_ms']}" if stats else "–"

    wall = level["wall_s"] or 1.0
    share = " / ".join(
        "–" if level["cpu_s"].get(name) is None else f"{100 * level['cpu_s'][name] / wall:.0f}"
        for name in ("worker", "temporal", "postgres", "store_api", "callers_and_fake_model")
    )
    waits = " / ".join(
        "–"
        if level["waiting_for_cpu_s"].get(name) is None
        else f"{100 * level['waiting_for_cpu_s'][name] / wall:.0f}"
        for name in ("worker", "temporal")
    )
    n = f"1 (single, {level['calls_run']} calls)" if level["single"] else str(level["calls"])
    ratio = level.get("p95_overhead_vs_single")
    return (
        f"| {agent} | {n} | {level['turns']} | {pair(level['round_trip'])} |"
        f" **{pair(level['overhead'])}** | {'' if ratio is None else f'{ratio} ×'} |"
        f" {level['turns_per_s']} | {(level['greeting'] or {}).get('p95_ms', '–')} | {share} |"
        f" {waits} | {level['failed_calls']} |"
    )


def save(result: dict[str, Any], path: Path = DEFAULT_OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
