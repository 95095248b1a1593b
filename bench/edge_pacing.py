"""The edge's outbound 20 ms pacing, measured on the wire by simulated Asterisk legs.

The edge runs as its own process (`voiceorder edge`), as in production, next to a worker
process, the Temporal dev server, PostgreSQL and the Store API; STT and the LLM are the test
fakes (OpenAI HTTP protocols, in this process), TTS is espeak-ng. The callers are a process
of their own (bench/edge_pacing_callers.py), so the fakes' work never delays their clock:
each call connects, records when every bot frame arrives, speaks one phrase after the
greeting, waits for the answer and hangs up.

Reported per run (all calls pooled): time from connect to the first frame, silence frames
before the greeting, frame lateness against an absolute 20 ms grid (p50/p99/max), jitter,
and gaps (an inter-arrival above 60 ms). The baseline in the same run is a bare
AudioSocketServer (silence only, no session, no VAD/TTS/Temporal) in a child process,
measured the same way: the floor of clock + loopback + measurement.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.children import (
    child_process,
    lower_children_priority,
    port_taken,
    worker_env,
    worker_polling,
)
from bench.edge_pacing_callers import CALLER_PHRASE, GAP_S, CallPacing
from core.cpu_priority import BACKGROUND_NICE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
BOT_REPLY = "Есть гречка ядрица, девятьсот грамм. Сколько пачек вам нужно?"
BARE_SERVER = """
import asyncio, sys
from audiosocket.pacing import FrameSource
from audiosocket.server import AudioSocketServer
from audiosocket.testing import RecordingHandler

async def main() -> None:
    server = AudioSocketServer(
        "127.0.0.1", int(sys.argv[1]), lambda call: RecordingHandler(call, FrameSource(8000))
    )
    await server.start()
    print("listening", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@dataclass
class Summary:
    calls: int
    frames: int
    first_frame_ms_max: float
    silent_frames_before_greeting_min: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    jitter_p99_ms: float
    gaps: int
    max_gap_ms: float
    # A gap the callers' own loop was late enough to make (see edge_pacing_callers.py): what
    # is left of it once their stall is taken off is no gap.
    gaps_callers_stalled: int
    max_gap_not_callers_ms: float
    callers_lag_p99_ms: float
    callers_lag_max_ms: float

    @classmethod
    def of(cls, calls: list[CallPacing], loop_lag: list[tuple[float, float]]) -> Summary:
        lateness = sorted(x for c in calls for x in c.lateness_ms)
        jitter = sorted(x for c in calls for x in c.jitter_ms)
        gaps = [x for c in calls for x in c.gaps_ms]
        lag = sorted(ms for _, ms in loop_lag)
        edge_made = [
            gap
            for c in calls
            for gap, end in zip(c.gaps_ms, c.gaps_end_at, strict=True)
            if gap - _stall_within(loop_lag, end - gap / 1000, end) > GAP_S * 1000
        ]
        return cls(
            calls=len(calls),
            frames=sum(c.frames for c in calls),
            first_frame_ms_max=round(max(c.first_frame_ms for c in calls), 2),
            silent_frames_before_greeting_min=min(c.silent_frames_before_greeting for c in calls),
            lateness_p50_ms=round(statistics.median(lateness), 2),
            lateness_p99_ms=round(_percentile(lateness, 0.99), 2),
            lateness_max_ms=round(lateness[-1], 2),
            jitter_p99_ms=round(_percentile(jitter, 0.99), 2),
            gaps=len(gaps),
            max_gap_ms=round(max(gaps, default=0.0), 2),
            gaps_callers_stalled=len(gaps) - len(edge_made),
            max_gap_not_callers_ms=round(max(edge_made, default=0.0), 2),
            callers_lag_p99_ms=round(_percentile(lag, 0.99), 2) if lag else 0.0,
            callers_lag_max_ms=round(lag[-1], 2) if lag else 0.0,
        )


def _stall_within(loop_lag: list[tuple[float, float]], start: float, end: float) -> float:
    """The longest the callers' loop was late (ms) in a stall overlapping [start, end]: a
    wake-up `ms` late at `woke` means the loop ran nothing else from `woke - ms` to `woke`."""
    return max(
        (ms for woke, ms in loop_lag if woke >= start and woke - ms / 1000 <= end), default=0.0
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(calls: int, bare_seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_ROOT))

    from tests.support.fake_llm import FakeLLM, Reply
    from tests.support.fake_openai_audio import FakeSpeech
    from tests.support.servers import free_port, postgres_database, store_api_server
    from tests.support.temporal import temporal_dev_server

    with tempfile.TemporaryDirectory(prefix="vo-bench-edge-") as tmp:
        workdir = Path(tmp)
        bare_port = free_port()
        base_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LOG_LEVEL": "WARNING"}
        # The baseline first, while nothing else runs.
        async with child_process(
            "bare",
            [sys.executable, "-c", BARE_SERVER, str(bare_port)],
            base_env,
            lambda: port_taken(bare_port),
            workdir,
        ):
            bare = await _callers(base_env, "bare", str(bare_port), str(bare_seconds), str(calls))
        async with (
            postgres_database(workdir) as database_url,
            store_api_server(database_url) as store_api,
            FakeLLM() as llm,
            FakeSpeech() as speech,
            temporal_dev_server() as temporal,
        ):
            queue = f"bench-edge-{uuid.uuid4().hex[:6]}"
            edge_port = free_port()
            env = {
                **base_env,
                **worker_env(
                    database_url=database_url,
                    store_api=store_api,
                    llm=llm,
                    temporal=temporal,
                    queue=queue,
                ),
                "STT_BASE_URL": speech.base_url,
                "STT_API_KEY": "bench",
                "AUDIOSOCKET_HOST": "127.0.0.1",
                "AUDIOSOCKET_PORT": str(edge_port),
                # Every call of the run gets in: past EDGE_MAX_CALLS it would hear "busy".
                "EDGE_MAX_CALLS": str(calls),
            }
            polling = worker_polling(temporal.client, queue)

            async def listening() -> bool:
                return await port_taken(edge_port)

            voiceorder = [sys.executable, "-m", "voiceorder"]
            async with child_process("worker", [*voiceorder, "worker"], env, polling, workdir):
                # As `voiceorder up` runs them: everything but the edge below its priority.
                lower_children_priority(BACKGROUND_NICE)
                async with child_process("edge", [*voiceorder, "edge"], env, listening, workdir):
                    legs = [uuid.uuid4() for _ in range(calls)]
                    for leg in legs:
                        speech.script(f"call-{leg}", [CALLER_PHRASE])
                        llm.script(f"call-{leg}", [Reply.text(BOT_REPLY)])
                    edge = await _callers(base_env, "edge", str(edge_port), *map(str, legs))

    return {
        "benchmark": "edge outbound pacing",
        "calls": calls,
        "frame_ms": 20,
        "edge": asdict(Summary.of(*edge)),
        "baseline_bare_server": asdict(Summary.of(*bare)),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


async def _callers(
    env: dict[str, str], *args: str
) -> tuple[list[CallPacing], list[tuple[float, float]]]:
    """Run the callers' process (bench/edge_pacing_callers.py) to the end: their calls and
    their loop's lateness."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.edge_pacing_callers", *args,
        env=env, cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the callers' process failed (exit {process.returncode})")
    report = json.loads(out)
    calls = [CallPacing(**call) for call in report["calls"]]
    return calls, [(woke, ms) for woke, ms in report["loop_lag"]]


def markdown(result: dict[str, Any]) -> str:
    edge, bare = result["edge"], result["baseline_bare_server"]
    rows = [
        ("frames measured", "frames"),
        ("connect → first frame, max ms", "first_frame_ms_max"),
        ("silence frames before the greeting, min per call", "silent_frames_before_greeting_min"),
        ("lateness p50 ms", "lateness_p50_ms"),
        ("lateness p99 ms", "lateness_p99_ms"),
        ("lateness max ms", "lateness_max_ms"),
        ("jitter p99 ms", "jitter_p99_ms"),
        ("gaps (> 60 ms)", "gaps"),
        ("longest gap ms", "max_gap_ms"),
        ("… gaps the callers' own loop stalled for", "gaps_callers_stalled"),
        ("… longest gap the callers' loop does not explain, ms", "max_gap_not_callers_ms"),
        ("callers' own loop late p99 / max ms", "callers_lag"),
    ]
    lines = [
        f"{result['calls']} concurrent calls; each: greeting, one caller phrase, the reply",
        "",
        "| what | edge (full session) | bare server (baseline) |",
        "|---|---|---|",
    ]

    def cell(side: dict[str, Any], key: str) -> object:
        if key == "callers_lag":
            return f"{side['callers_lag_p99_ms']} / {side['callers_lag_max_ms']}"
        return side[key]

    lines += [f"| {name} | {cell(edge, key)} | {cell(bare, key)} |" for name, key in rows]
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "edge_pacing.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
