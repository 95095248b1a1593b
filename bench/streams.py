"""B3, edge audio capacity: how many concurrent calls one CPU core of edge carries with every
outbound frame on time (p99 lateness < 10 ms; quality.md, target ≥ 300 per core).

For each call count N of the sweep: `--processes` edge processes (bench/streams_edge.py: the
real AudioSocket server, send clock, reader, playout and VAD endpointer per call; a stand-in
answers turns) listen on one port with SO_REUSEPORT, pinned to `--edge-cores` CPUs; one
caller process (bench/streams_load.py) on the other CPUs opens N legs over the ramp and
streams 20 ms frames both ways, the caller speaking (espeak Russian) half of the time. After
`--settle` seconds it measures for `--seconds`: every arriving frame's lateness at the peer
(how long after its slot it arrived; the slot is the earliest arrival's grid plus the 22 ms a
frame may leave early), and, from each edge process when it stops, the server's own SendClock
lateness of every frame it sent. A step passes when both p99s are under 10 ms; the largest
passing N over the edge cores is the streams-per-core figure.

The baseline in the same run is the bare clock: the same edge processes with the speech path
off (`--baseline-calls` silence-only calls, no VAD), so the cost of the speech path and what
the box itself allows show side by side.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cpu import process_cpu_s


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (Linux /proc), MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _total(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(v for v in values if v), 1)


PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "streams.json"
LATENESS_TARGET_MS = 10.0
# What the caller says, in turn, each followed by as long a silence (the bot's half).
CALLER_PHRASES = (
    "Здравствуйте, хочу заказать гречку и две пачки риса.",
    "Доставьте, пожалуйста, завтра после обеда на Тверскую улицу.",
    "Да, всё верно, оформляйте заказ.",
    "А сколько будет стоить доставка?",
)
BOT_REPLY = "Есть гречка ядрица, девятьсот грамм. Сколько пачек вам нужно?"


@dataclass(frozen=True)
class StreamsConfig:
    calls: tuple[int, ...] = (100, 200, 300, 400)
    seconds: float = 20.0
    ramp_s: float = 5.0
    settle_s: float = 3.0
    rate: int = 16000
    processes: int = 1
    edge_cores: int = 1
    batched: bool = True  # False: the VAD one window at a time, as before batching


def speech_files(workdir: Path, rate: int) -> tuple[Path, Path]:
    """The caller's script (phrases, each followed by silence as long) and the bot's reply."""
    import numpy as np

    from audiosocket.speech import synthesize_to_pcm

    parts: list[bytes] = []
    for text in CALLER_PHRASES:
        pcm = synthesize_to_pcm(text, rate)
        samples = np.frombuffer(pcm, dtype="<i2")
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
        speech = samples[loud[0] : loud[-1] + 1].tobytes()
        parts += [speech, bytes(len(speech))]
    script = workdir / "caller.pcm"
    script.write_bytes(b"".join(parts))
    reply = workdir / "reply.pcm"
    reply.write_bytes(synthesize_to_pcm(BOT_REPLY, rate))
    return script, reply


def cpu_sets(edge_cores: int) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the edges and for the callers; None (no pinning) on a one-CPU machine."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    edge_cores = min(edge_cores, len(available) - 1)
    return set(available[:edge_cores]), set(available[edge_cores:])


async def _start_edges(
    config: StreamsConfig, reply: Path, workdir: Path, cpus: set[int] | None, speech: bool
) -> tuple[list[asyncio.subprocess.Process], int, list[Path]]:
    processes: list[asyncio.subprocess.Process] = []
    stats: list[Path] = []
    port = 0
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for i in range(config.processes):
        stats_file = workdir / f"edge-{i}-{time.monotonic_ns()}.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.streams_edge",
            str(port),
            str(config.rate),
            str(reply),
            str(stats_file),
            ("speech" if config.batched else "speech-unbatched") if speech else "silence",
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        if cpus is not None:
            os.sched_setaffinity(process.pid, cpus)
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode().split()
        if not line or line[0] != "listening":
            raise RuntimeError(f"edge process {i} did not start (exit code {process.returncode})")
        port = int(line[1])  # the first picks a free port; the others join it
        processes.append(process)
        stats.append(stats_file)
    return processes, port, stats


async def _stop_edges(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.terminate()
    for process in processes:
        try:
            # An overloaded edge first works through the audio still queued in its sockets.
            await asyncio.wait_for(process.wait(), 90)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run_step(
    config: StreamsConfig,
    calls: int,
    files: tuple[Path, Path],
    workdir: Path,
    *,
    speech: bool = True,
) -> dict[str, Any]:
    """One call count: start the edges, run the callers, stop the edges, add it all up."""
    script, reply = files
    edge_cpus, load_cpus = cpu_sets(config.edge_cores)
    edges, port, stats_files = await _start_edges(config, reply, workdir, edge_cpus, speech)
    try:
        spec = {
            "port": port,
            "rate": config.rate,
            "calls": calls,
            "ramp_s": config.ramp_s,
            "settle_s": config.settle_s,
            "seconds": config.seconds,
            "script_file": str(script),
        }
        spec_file = workdir / f"load-{calls}.json"
        result_file = workdir / f"load-{calls}-result.json"
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.streams_load",
            str(spec_file),
            str(result_file),
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        if load_cpus is not None:
            os.sched_setaffinity(load.pid, load_cpus)
        rss_before = _total([rss_mb(edge.pid) for edge in edges])
        # CPU of the edges over the measured window only (the ramp and settling excluded).
        await asyncio.sleep(config.ramp_s + config.settle_s)
        cpu_before = [process_cpu_s(edge.pid) for edge in edges]
        wall_before = time.monotonic()
        await asyncio.sleep(config.seconds)
        cpu_after = [process_cpu_s(edge.pid) for edge in edges]
        wall = time.monotonic() - wall_before
        rss_during = _total([rss_mb(edge.pid) for edge in edges])
        if await load.wait() != 0:
            raise RuntimeError(f"the caller process failed at {calls} calls")
        await asyncio.sleep(1.0)  # the calls' ends reach the edges
        rss_after = _total([rss_mb(edge.pid) for edge in edges])
        peer = json.loads(result_file.read_text(encoding="utf-8"))
    finally:
        await _stop_edges(edges)
    # An edge killed for not stopping in time leaves no statistics: the step fails, the run goes on.
    reports = [json.loads(path.read_text()) for path in stats_files if path.exists()]
    server = _server_totals(reports, config.processes)
    edge_cpu = sum(
        after - before
        for before, after in zip(cpu_before, cpu_after, strict=True)
        if before is not None and after is not None
    )
    passed = (
        server["complete"]
        and peer["lateness_p99_ms"] < LATENESS_TARGET_MS
        and server["lateness_p99_ms"] < LATENESS_TARGET_MS
        and peer["calls_cut_by_edge"] == 0
    )
    return {
        "calls": calls,
        "speech": speech,
        "peer": peer,
        "server": server,
        "edge_cpu_cores": round(edge_cpu / wall, 3),
        "edge_cpu_ms_per_call_second": round(edge_cpu * 1000 / (wall * calls), 3),
        # resident memory of the edge processes: listening, with the calls on, after they end
        "edge_rss_mb": {"before": rss_before, "during": rss_during, "after": rss_after},
        "passed": passed,
    }


def _server_totals(per_process: list[dict[str, Any]], started: int) -> dict[str, Any]:
    from audiosocket.pacing import LATENESS_BUCKETS, PacingStats

    histogram = [
        sum(column)
        for column in zip(
            [0] * LATENESS_BUCKETS, *(p["lateness_ms_histogram"] for p in per_process), strict=True
        )
    ]
    stats = PacingStats(lateness_ms=histogram)
    return {
        "processes": len(per_process),
        "complete": len(per_process) == started,  # every edge process reported
        "calls": sum(p["calls"] for p in per_process),
        "frames_sent": sum(p["frames_sent"] for p in per_process),
        "late": sum(p["late"] for p in per_process),
        "skipped": sum(p["skipped"] for p in per_process),
        "lateness_p99_ms": stats.lateness_percentile(0.99),
        "max_lateness_ms": max((p["max_lateness_ms"] for p in per_process), default=0.0),
        "utterances": sum(p["utterances"] for p in per_process),
        "barge_ins": sum(p["barge_ins"] for p in per_process),
        "vad_streams_open_after": sum(p["vad_streams_open"] for p in per_process),
        "vad_windows_per_model_run": round(
            sum(p["vad_windows_scored"] for p in per_process)
            / max(1, sum(p["vad_model_runs"] for p in per_process)),
            1,
        ),
        "calls_per_process": [p["calls"] for p in per_process],
    }


async def run(config: StreamsConfig) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_ROOT))
    load_before = os.getloadavg()
    edge_cpus, load_cpus = cpu_sets(config.edge_cores)
    with tempfile.TemporaryDirectory(prefix="vo-bench-streams-") as tmp:
        workdir = Path(tmp)
        files = await asyncio.to_thread(speech_files, workdir, config.rate)
        baseline = await run_step(config, max(config.calls), files, workdir, speech=False)
        steps = [await run_step(config, calls, files, workdir) for calls in config.calls]
    cores = len(edge_cpus) if edge_cpus is not None else os.cpu_count() or 1
    best = max((step["calls"] for step in steps if step["passed"]), default=0)
    return {
        "benchmark": "B3 edge audio capacity",
        "rate": config.rate,
        "frame_ms": 20,
        "edge_processes": config.processes,
        "vad_batched": config.batched,
        "edge_cpus": sorted(edge_cpus) if edge_cpus is not None else None,
        "caller_cpus": sorted(load_cpus) if load_cpus is not None else None,
        "seconds": config.seconds,
        "lateness_target_ms": LATENESS_TARGET_MS,
        "steps": steps,
        "baseline_silence_only": baseline,
        "max_calls_passing": best,
        "streams_per_core": round(best / cores, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"B3: {result['edge_processes']} edge process(es) on CPU {result['edge_cpus']}, callers"
        f" on CPU {result['caller_cpus']}; {result['rate']} Hz, 20 ms frames both ways, caller"
        f" speaking half of the time; {result['seconds']:g} s measured per step",
        "",
        "| calls | peer lateness p50 / p99 / max ms | arrival spread p99 ms | gaps"
        " | server p99 ms | late / skipped"
        " | utterances | VAD windows per run | edge CPU (cores) | CPU ms per call-second"
        " | edge RSS MB before / during / after | callers' own lag p99 ms | p99 < 10 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [*result["steps"], result["baseline_silence_only"]]
    for step in rows:
        peer, server, rss = step["peer"], step["server"], step["edge_rss_mb"]
        name = str(step["calls"]) + ("" if step["speech"] else " (baseline: silence, no VAD)")
        lines.append(
            f"| {name} | {peer['lateness_p50_ms']} / {peer['lateness_p99_ms']} /"
            f" {peer['lateness_max_ms']} | {peer['spread_p99_ms']} | {peer['gaps']}"
            f" | {server['lateness_p99_ms']}"
            f" | {server['late']} / {server['skipped']} | {server['utterances']}"
            f" | {server['vad_windows_per_model_run']}"
            f" | {step['edge_cpu_cores']} | {step['edge_cpu_ms_per_call_second']}"
            f" | {rss['before']} / {rss['during']} / {rss['after']}"
            f" | {peer['sender_lag_p99_ms']} | {'yes' if step['passed'] else 'no'} |"
        )
    lines += [
        "",
        f"**Largest passing call count: {result['max_calls_passing']}"
        f" → {result['streams_per_core']} streams per core.**"
        f" Load average before/after: {result['load_average_before']} /"
        f" {result['load_average_after']}.",
    ]
    return "\n".join(lines)


def save(result: dict[str, Any], path: Path = DEFAULT_OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
