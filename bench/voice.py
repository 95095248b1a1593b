"""B4: voice to voice — the end of the caller's speech to the first bot audio they hear.

The whole local stack runs, each part as in production: PostgreSQL, the Temporal dev server,
the Store API, a worker process and edge processes; this process plays the callers over real
AudioSocket (bench/voice_calls.py) and serves the fakes at the external boundaries, each
speaking its real HTTP protocol with fixed latencies: STT (150 ms), the LLM (streamed: 350 ms
to the first token, then 40 tokens a second) and TTS (100 ms to the first byte, streamed).

Two edges take the same calls, turn about: one streams replies (REPLY_STREAM_SECRET set: the
model's first sentence goes to TTS while it still writes), one does not (today's path, the
baseline). Guided turns need edges with AGENT=guided, started after the others.

For each kind of turn: p50/p95 measured, the floor computed from the configured latencies
(end-of-turn wait + STT + the model's time to the first sentence + TTS first byte), and
overhead = measured − floor. The edges' `turn_latency` records say where the time went.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.children import child_process, port_taken, worker_env, worker_polling

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "voice.json"
TARGET_OVERHEAD_P95_MS = 60.0
SECRET = "bench-voice-reply-stream"
# Turns measured per call (the "yes" kind measures one per call: it needs a whole order).
TURNS_PER_CALL = 5
# The edge's TTS fake: a tone (speech to the simulated caller), this long per character.
TTS_SECONDS_PER_CHAR = 0.012
TTS_TONE_HZ = 440.0
TTS_PIECE_GAP_S = 0.02  # 100 ms of audio per piece: faster than real time, as services are
STREAMED, BASELINE = "streamed", "baseline"
FULL_SHELF = 1_000_000  # stock of every product
WARM_UP = 500  # the number of the warm-up calls' replies (measured ones count from 0)
# Where the measured time goes, from the edges' turn_latency records (ms, p50 per kind).
# The edges' default wait after a question that expects no particular kind of answer.
DEFAULT_END_OF_TURN_MS = 700.0
STAGES = ("stt_ms", "first_sentence_ms", "update_ms", "tts_first_audio_ms", "total_ms")


@dataclass(frozen=True)
class Latencies:
    """The configured latencies of the fakes and the edge's end-of-turn wait."""

    stt_ms: float = 150.0
    llm_first_token_ms: float = 350.0
    llm_tokens_per_s: float = 40.0
    tts_first_byte_ms: float = 100.0

    def floor_ms(self, model_ms: float, end_of_turn_ms: float, *, tts: bool = True) -> float:
        """`end_of_turn_ms`: the silence the edge waited for at this turn, which follows what
        the bot asked (END_OF_TURN_*; 400 ms after a yes/no question, 700 ms by default).
        `tts` False: the reply's first sentence came from the edge's TTS cache (the guided
        agent's questions are worded the same every time), so no TTS latency is owed."""
        tts_ms = self.tts_first_byte_ms if tts else 0.0
        return end_of_turn_ms + self.stt_ms + model_ms + tts_ms


@dataclass
class Stats:
    p50_ms: float
    p95_ms: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(round(statistics.median(ordered), 1), round(p95, 1), len(ordered))


async def run(
    samples: int,
    latencies: Latencies,
    workdir: Path | None = None,
    only: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """`workdir` keeps the processes' logs (a temporary directory by default); `only` names
    the kinds to measure (`plain`, `tool`, `guided`, `yes`; all when empty)."""
    # Benchmarks run from a checkout and reuse the test suite's real-server helpers.
    sys.path.insert(0, str(PROJECT_ROOT))
    from bench.voice_calls import Caller, Kind, ModelTiming

    model = ModelTiming(latencies.llm_first_token_ms, latencies.llm_tokens_per_s)
    measured: dict[tuple[Kind, str], list[Any]] = {}
    logs: dict[str, list[Path]] = {STREAMED: [], BASELINE: []}
    phases = [
        (agent, [kind for kind in kinds if not only or kind.name.lower() in only])
        for agent, kinds in (("llm", (Kind.PLAIN, Kind.TOOL, Kind.YES)), ("guided", (Kind.GUIDED,)))
    ]
    with tempfile.TemporaryDirectory(prefix="vo-bench-voice-") as tmp:
        where = workdir or Path(tmp)
        await asyncio.to_thread(where.mkdir, parents=True, exist_ok=True)
        async with _stack(where, latencies) as stack:
            for agent, kinds in phases:
                if not kinds:
                    continue
                async with stack.edges(agent) as edges:
                    callers = {}
                    for path, (port, log) in edges.items():
                        logs[path].append(log)
                        callers[path] = Caller(port, stack.llm, stack.stt, model)
                    # Unmeasured: what a process does the first time (imports, connections);
                    # its replies are worded apart from the measured ones (the TTS cache).
                    await _play(kinds[0], callers, 1, first=WARM_UP)
                    for kind in kinds:
                        for path, caller in callers.items():
                            caller.measured = measured.setdefault((kind, path), [])
                        await _play(kind, callers, samples)
        stages = {path: _turn_latencies(files) for path, files in logs.items()}
    return _result(samples, latencies, measured, stages)


async def _play(kind: Any, callers: dict[str, Any], samples: int, first: int = 0) -> None:
    """The calls of one kind, streamed and baseline taking turns, until each has `samples`;
    `first` numbers the first reply (replies are worded by their number)."""
    from bench.voice_calls import Kind, guided_call, plain_call, tool_call, yes_call

    plays: dict[Kind, Callable[[Any, int, int], Awaitable[None]]] = {
        Kind.PLAIN: plain_call,
        Kind.TOOL: tool_call,
        Kind.GUIDED: guided_call,
    }
    done = 0
    while done < samples:
        turns = 1 if kind is Kind.YES else min(TURNS_PER_CALL, samples - done)
        for caller in callers.values():
            if kind is Kind.YES:
                await yes_call(caller, first + done)
            else:
                await plays[kind](caller, first + done, turns)
        done += turns


@dataclass
class _Stack:
    workdir: Path
    env: dict[str, str]
    llm: Any
    stt: Any
    tts: Any

    @asynccontextmanager
    async def edges(self, agent: str) -> AsyncIterator[dict[str, tuple[int, Path]]]:
        """A streaming and a baseline edge with AGENT=`agent`: path → (port, log file)."""
        voiceorder = [sys.executable, "-m", "voiceorder", "edge"]
        async with AsyncExitStack() as stack:
            found: dict[str, tuple[int, Path]] = {}
            for path in (STREAMED, BASELINE):
                port = _free_port()
                env = {
                    **self.env,
                    "AGENT": agent,
                    "AUDIOSOCKET_PORT": str(port),
                    "STT_BASE_URL": self.stt.base_url,
                    "STT_API_KEY": "bench",
                    "TTS_PROVIDER": "openai",
                    "TTS_BASE_URL": self.tts.base_url,
                    "TTS_API_KEY": "bench",
                }
                if path == STREAMED:
                    env |= {"REPLY_STREAM_SECRET": SECRET, "REPLY_STREAM_PORT": "0"}

                async def listening(port: int = port) -> bool:
                    return await port_taken(port)

                log = await stack.enter_async_context(
                    child_process(f"edge-{agent}-{path}", voiceorder, env, listening, self.workdir)
                )
                found[path] = (port, log)
            yield found


@asynccontextmanager
async def _stack(workdir: Path, latencies: Latencies) -> AsyncIterator[_Stack]:

    from tests.support.fake_llm import FakeLLM
    from tests.support.fake_openai_audio import FakeSpeech
    from tests.support.servers import postgres_database, store_api_server
    from tests.support.shelves import stock_every_product
    from tests.support.temporal import temporal_dev_server

    async with (
        postgres_database(workdir) as database_url,
        store_api_server(database_url) as store_api,
        FakeLLM() as llm,
        FakeSpeech() as stt,
        FakeSpeech(tone_hz=TTS_TONE_HZ, seconds_per_char=TTS_SECONDS_PER_CHAR) as tts,
        temporal_dev_server() as temporal,
    ):
        # Each "yes" call orders up to nine packs of the same buckwheat: a draft refused for
        # stock would measure another turn than the one named.
        await stock_every_product(database_url, FULL_SHELF)
        llm.set_latency(
            latencies.llm_first_token_ms / 1000, per_chunk=1 / latencies.llm_tokens_per_s
        )
        stt.set_latency(latencies.stt_ms / 1000)
        tts.set_latency(latencies.tts_first_byte_ms / 1000, per_chunk=TTS_PIECE_GAP_S)
        queue = f"bench-voice-{uuid.uuid4().hex[:6]}"
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATA_DIR": str(workdir),
            "LOG_LEVEL": "INFO",
            **worker_env(
                database_url=database_url,
                store_api=store_api,
                llm=llm,
                temporal=temporal,
                queue=queue,
            ),
            "AUDIOSOCKET_HOST": "127.0.0.1",
            # The floor counts STT after the end-of-turn wait; a transcript made during the
            # wait (early STT) would hide it and make the overhead look negative.
            "END_OF_TURN_EARLY_STT_MS": "0",
        }
        polling = worker_polling(temporal.client, queue)
        streaming_worker_env = {**env, "REPLY_STREAM_SECRET": SECRET}
        worker = [sys.executable, "-m", "voiceorder", "worker"]
        async with child_process("worker", worker, streaming_worker_env, polling, workdir):
            yield _Stack(workdir, env, llm, stt, tts)


def _free_port() -> int:
    from tests.support.servers import free_port

    return free_port()


def _turn_latencies(logs: list[Path]) -> dict[tuple[str, int], dict[str, Any]]:
    """(call id, speech turn from 1) → the edge's turn_latency record."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for log in logs:
        for line in log.read_text("utf-8", errors="replace").splitlines():
            if '"turn_latency"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") != "turn_latency" or record.get("kind") != "speech":
                continue
            call = str(record.get("call_id"))
            counts[call] = counts.get(call, 0) + 1
            found[(call, counts[call])] = record
    return found


def _result(
    samples: int,
    latencies: Latencies,
    measured: dict[tuple[Any, str], list[Any]],
    stages: dict[str, dict[tuple[str, int], dict[str, Any]]],
) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for (kind, path), turns in measured.items():
        if not turns:
            continue
        entry = kinds.setdefault(str(kind), {})
        records = [stages[path].get((t.call_id, t.speech_turn)) for t in turns]
        floors = [
            latencies.floor_ms(
                t.model_ms, _end_of_turn_ms(record), tts=not _tts_cached(record, latencies)
            )
            for t, record in zip(turns, records, strict=True)
        ]
        overhead = [t.ms - floor for t, floor in zip(turns, floors, strict=True)]
        entry[path] = {
            "measured": asdict(Stats.of([t.ms for t in turns])),
            "floor_ms": round(statistics.median(floors), 1),
            "end_of_turn_p50_ms": _median([_end_of_turn_ms(r) for r in records]),
            "overhead": asdict(Stats.of(overhead)),
            "edge_stages_p50_ms": {
                stage: _median([r.get(stage) for r in records if r]) for stage in STAGES
            },
            # The edge's clock starts when its endpointer ended the turn: the rest of the
            # measured time is the end-of-turn wait and the frame's trip to the caller.
            "before_edge_stages_p50_ms": _median(
                [t.ms - r["total_ms"] for t, r in zip(turns, records, strict=True) if r]
            ),
        }
    plain = kinds.get("plain answer", {})
    gain = None
    if STREAMED in plain and BASELINE in plain:
        from bench.voice_calls import ModelTiming, plain_answer

        model = ModelTiming(latencies.llm_first_token_ms, latencies.llm_tokens_per_s)
        writing = model.whole_ms(plain_answer(0)) - model.first_sentence_ms(plain_answer(0))
        earlier = plain[BASELINE]["measured"]["p50_ms"] - plain[STREAMED]["measured"]["p50_ms"]
        gain = {
            "writing_after_first_sentence_ms": round(writing, 1),
            "baseline_minus_streamed_p50_ms": round(earlier, 1),
            "met": earlier >= writing,
        }
    met = all(
        entry[STREAMED]["overhead"]["p95_ms"] <= TARGET_OVERHEAD_P95_MS
        for entry in kinds.values()
        if STREAMED in entry
    )
    return {
        "benchmark": "B4 voice-to-voice latency",
        "samples_per_kind_and_path": samples,
        "latencies": asdict(latencies),
        "kinds": kinds,
        "target": {"overhead_p95_ms": TARGET_OVERHEAD_P95_MS, "met": met},
        "plain_answer_gain": gain,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _tts_cached(record: dict[str, Any] | None, latencies: Latencies) -> bool:
    """Whether the turn's first audio came from the edge's TTS cache: far sooner than the
    fake TTS answers at all."""
    value = record.get("tts_first_audio_ms") if record else None
    return isinstance(value, int | float) and value < latencies.tts_first_byte_ms / 2


def _end_of_turn_ms(record: dict[str, Any] | None) -> float:
    """The wait the edge logged for the turn; the free answer's default if it logged none."""
    value = record.get("end_of_turn_ms") if record else None
    return float(value) if isinstance(value, int | float) else DEFAULT_END_OF_TURN_MS


def _median(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return round(statistics.median(numbers), 1) if numbers else None


def markdown(result: dict[str, Any]) -> str:
    lat = result["latencies"]
    lines = [
        f"fakes: STT {lat['stt_ms']:g} ms; LLM {lat['llm_first_token_ms']:g} ms to the first "
        f"token, {lat['llm_tokens_per_s']:g} tokens/s; TTS {lat['tts_first_byte_ms']:g} ms to the "
        "first byte; end of turn as the edge chose it (END_OF_TURN_*), early STT off",
        "",
        "| kind | path | p50 ms | p95 ms | floor ms | overhead p50 | overhead p95 | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, entry in result["kinds"].items():
        for path in (STREAMED, BASELINE):
            if path not in entry:
                continue
            row = entry[path]
            m, o = row["measured"], row["overhead"]
            lines.append(
                f"| {kind} | {path} | {m['p50_ms']} | {m['p95_ms']} | {row['floor_ms']} | "
                f"{o['p50_ms']} | **{o['p95_ms']}** | {m['n']} |"
            )
    lines += [
        "",
        "Where the time goes (p50, ms; the edge's turn_latency stages):",
        "",
        "| kind | path | before the edge's clock | stt | first sentence | update | "
        "tts first audio | edge total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, entry in result["kinds"].items():
        for path in (STREAMED, BASELINE):
            if path not in entry:
                continue
            stage = entry[path]["edge_stages_p50_ms"]
            lines.append(
                f"| {kind} | {path} | {entry[path]['before_edge_stages_p50_ms']} | "
                f"{stage['stt_ms']} | {stage['first_sentence_ms']} | {stage['update_ms']} | "
                f"{stage['tts_first_audio_ms']} | {stage['total_ms']} |"
            )
    target = result["target"]
    lines.append(
        f"\ntarget: overhead p95 ≤ {target['overhead_p95_ms']:g} ms for every kind (streamed): "
        f"{'met' if target['met'] else 'NOT met'}"
    )
    if gain := result["plain_answer_gain"]:
        lines.append(
            f"plain answer: streamed first audio {gain['baseline_minus_streamed_p50_ms']} ms "
            f"earlier than the baseline (p50); the model writes "
            f"{gain['writing_after_first_sentence_ms']} ms after its first sentence: "
            f"{'met' if gain['met'] else 'NOT met'}"
        )
    return "\n".join(lines)


def save(result: dict[str, Any], path: Path = DEFAULT_OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
