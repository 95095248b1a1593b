"""The edge's outbound 20 ms pacing, measured on the wire by simulated Asterisk legs.

The edge runs as its own process (`voiceorder edge`), as in production, next to a worker
process, the Temporal dev server, PostgreSQL and the Store API; STT and the LLM are the test
fakes (OpenAI HTTP protocols), TTS is espeak-ng. This process only plays the callers: each
call connects, records when every bot frame arrives, speaks one phrase after the greeting,
waits for the answer and hangs up.

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

from bench.children import child_process, port_taken, worker_env, worker_polling

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
CALLER_PHRASE = "Здравствуйте, хочу заказать гречку"
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
class CallPacing:
    first_frame_ms: float
    silent_frames_before_greeting: int
    greeting_after_ms: float
    frames: int
    lateness_ms: list[float]
    jitter_ms: list[float]
    gaps_ms: list[float]


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

    @classmethod
    def of(cls, calls: list[CallPacing]) -> Summary:
        lateness = sorted(x for c in calls for x in c.lateness_ms)
        jitter = sorted(x for c in calls for x in c.jitter_ms)
        gaps = [x for c in calls for x in c.gaps_ms]
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
        )


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def analyse(
    connected: float, received: list[tuple[float, bytes]], rate: int, greeting: float | None
) -> CallPacing:
    """Lateness of every frame against the grid anchored at the earliest-possible first frame
    (re-anchored after a gap, so one stall counts once, as a gap, and where speech starts or
    stops: the edge starts a reply's first frame at once instead of at the silence's next
    slot, and moves back to its grid in the silence after it: audiosocket/pacing.py)."""
    bytes_per_s = rate * 2
    lateness: list[float] = []
    jitter: list[float] = []
    gaps: list[float] = []
    segment: list[tuple[float, float]] = []
    offset = 0.0

    def close() -> None:
        if segment:
            anchor = min(at - audio for at, audio in segment)
            lateness.extend((at - audio - anchor) * 1000 for at, audio in segment)
            segment.clear()

    previous: tuple[float, float] | None = None
    was_speech: bool | None = None
    for at, pcm in received:
        seconds = len(pcm) / bytes_per_s
        speech = any(pcm)
        if previous is not None:
            delta = at - previous[0]
            if delta > 3 * 0.020:
                gaps.append(delta * 1000)
                close()
                offset = 0.0
            elif speech != was_speech:
                close()
                offset = 0.0
            else:
                jitter.append(abs(delta - previous[1]) * 1000)
        was_speech = speech
        segment.append((at, offset))
        offset += seconds
        previous = (at, seconds)
    close()
    before = [pcm for at, pcm in received if greeting is None or at < greeting]
    return CallPacing(
        first_frame_ms=(received[0][0] - connected) * 1000 if received else float("inf"),
        silent_frames_before_greeting=sum(1 for pcm in before if not any(pcm)),
        greeting_after_ms=((greeting or connected) - connected) * 1000,
        frames=len(received),
        lateness_ms=lateness,
        jitter_ms=jitter,
        gaps_ms=gaps,
    )


async def _call_edge(port: int, llm: Any, speech: Any, pcm: bytes) -> CallPacing:
    from audiosocket.simulator.peer import AudioSocketPeer
    from tests.support.fake_llm import Reply

    leg = uuid.uuid4()
    speech.script(f"call-{leg}", [CALLER_PHRASE])
    llm.script(f"call-{leg}", [Reply.text(BOT_REPLY)])
    loop = asyncio.get_running_loop()
    connected = loop.time()
    peer = await AudioSocketPeer.connect("127.0.0.1", port, leg, rate=8000)
    try:
        greeting = await peer.wait_for_bot_speech(since=connected, timeout_s=60)
        await peer.wait_until_bot_quiet(600, since=connected, timeout_s=60)
        await peer.play(pcm)
        stopped = loop.time()
        await peer.wait_for_bot_speech(since=stopped, timeout_s=60)
        await peer.wait_until_bot_quiet(600, since=stopped, timeout_s=60)
    finally:
        await peer.hang_up()
    return analyse(connected, peer.received, 8000, greeting)


async def _call_bare(port: int, seconds: float) -> CallPacing:
    from audiosocket.simulator.peer import AudioSocketPeer

    loop = asyncio.get_running_loop()
    connected = loop.time()
    peer = await AudioSocketPeer.connect("127.0.0.1", port, uuid.uuid4(), rate=8000)
    await asyncio.sleep(seconds)
    await peer.hang_up()
    return analyse(connected, peer.received, 8000, None)


async def run(calls: int, bare_seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_ROOT))

    from audiosocket.speech import synthesize_to_pcm
    from tests.support.fake_llm import FakeLLM
    from tests.support.fake_openai_audio import FakeSpeech
    from tests.support.servers import free_port, postgres_database, store_api_server
    from tests.support.temporal import temporal_dev_server

    pcm = synthesize_to_pcm(CALLER_PHRASE, 8000)
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
            bare = await asyncio.gather(
                *(_call_bare(bare_port, bare_seconds) for _ in range(calls))
            )
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
            }
            polling = worker_polling(temporal.client, queue)

            async def listening() -> bool:
                return await port_taken(edge_port)

            voiceorder = [sys.executable, "-m", "voiceorder"]
            async with (
                child_process("worker", [*voiceorder, "worker"], env, polling, workdir),
                child_process("edge", [*voiceorder, "edge"], env, listening, workdir),
            ):
                edge = await asyncio.gather(
                    *(_call_edge(edge_port, llm, speech, pcm) for _ in range(calls))
                )

    return {
        "benchmark": "edge outbound pacing",
        "calls": calls,
        "frame_ms": 20,
        "edge": asdict(Summary.of(list(edge))),
        "baseline_bare_server": asdict(Summary.of(list(bare))),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


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
    ]
    lines = [
        f"{result['calls']} concurrent calls; each: greeting, one caller phrase, the reply",
        "",
        "| what | edge (full session) | bare server (baseline) |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {edge[key]} | {bare[key]} |" for name, key in rows]
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "edge_pacing.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
