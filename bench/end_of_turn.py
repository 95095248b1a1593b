"""End of the caller's turn: the fixed wait of before against the wait per expectation, and
early transcripts, measured on the wire by simulated Asterisk legs.

The edge runs as its own process (`voiceorder edge`) next to a worker process, the Temporal
dev server, PostgreSQL and the Store API; the LLM is FakeLLM (no latency), STT FakeSpeech
with a fixed latency (150 ms by default, B4's), TTS espeak-ng. One edge process per
configuration, all against the same worker:

- `fixed 700 ms`: every turn ends after 700 ms of silence, as before (all END_OF_TURN_*_MS
  700, no early transcript);
- `adaptive, no early STT`: the waits' defaults (yes/no 400, digits 1200, free 700 ms …),
  END_OF_TURN_EARLY_STT_MS=0;
- `adaptive + early STT (defaults)`: the same, and the utterance so far is transcribed after
  300 ms of silence (END_OF_TURN_EARLY_STT_MS's default).

Each call: the greeting, "Алло" (the bot answers with a scripted question), then the
caller's answer of one kind, measured from the end of the caller's speech to the bot's first
audio (peer clock). A dictated number with a 900 ms pause is also checked for being cut:
the bot answering before the caller finished.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.children import child_process, port_taken, worker_env, worker_polling

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
DICTATION_PAUSE_S = 0.9
# The caller's voice: espeak at a caller's pace; "да" slower, as people say it (~260 ms).
CALLER_WPM = 160
YES_WPM = 100
ANYTHING_HEARD = "Хорошо"  # what STT "hears" beyond a call's script (a split turn's rest)


@dataclass(frozen=True)
class Kind:
    name: str
    question: str  # the bot's question the caller answers (it sets Reply.expects)
    parts: tuple[str, ...]  # what the caller says, with DICTATION_PAUSE_S between parts
    wpm: int = CALLER_WPM


KINDS = (
    Kind("yes after a yes/no question", "Вы звоните по поводу заказа, верно?", ("Да.",), YES_WPM),
    Kind("open answer", "Чем могу помочь?", ("Хочу узнать, где мой заказ",)),
    Kind("order number", "Назовите, пожалуйста, номер заказа.", ("Сто два ноль сорок пять",)),
    Kind(
        "order number, 900 ms pause",
        "Назовите, пожалуйста, номер заказа.",
        ("Сто два", "ноль сорок пять"),
    ),
)
CONFIGS: dict[str, dict[str, str]] = {
    "fixed 700 ms": {
        **{
            f"END_OF_TURN_{name}_MS": "700"
            for name in ("YES_NO", "DIGITS", "ADDRESS", "PRODUCT", "FREE")
        },
        "END_OF_TURN_EARLY_STT_MS": "0",
    },
    "adaptive, no early STT": {"END_OF_TURN_EARLY_STT_MS": "0"},
    "adaptive + early STT (defaults)": {},
}


@dataclass
class Cell:
    """One kind under one configuration."""

    latencies_ms: list[float] = field(default_factory=list)
    cut: int = 0  # the bot answered before the caller had finished
    stt_requests: int = 0  # of the calls' two turns, early transcripts thrown away included

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        calls = len(ordered) + self.cut
        return {
            "calls": calls,
            "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
            "p95_ms": round(_percentile(ordered, 0.95), 1) if ordered else None,
            "cut": self.cut,
            "stt_requests_per_call": round(self.stt_requests / max(1, calls), 2),
        }


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _voice(text: str, wpm: int) -> bytes:
    """The caller's words: espeak Russian at 8 kHz (real speech for silero), silence cut."""
    import numpy as np

    from audiosocket.speech import synthesize_to_pcm

    samples = np.frombuffer(synthesize_to_pcm(text, 8000, words_per_minute=wpm), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


async def _call(port: int, llm: Any, speech: Any, kind: Kind, cell: Cell) -> None:
    from audiosocket.simulator.peer import AudioSocketPeer
    from tests.support.fake_llm import Reply

    leg = uuid.uuid4()
    speech.script(f"call-{leg}", ["Алло", " ".join(kind.parts)])
    llm.script(
        f"call-{leg}", [Reply.text(kind.question), *(Reply.text("Хорошо.") for _ in range(3))]
    )
    hello = await asyncio.to_thread(_voice, "Алло", CALLER_WPM)
    parts = [await asyncio.to_thread(_voice, part, kind.wpm) for part in kind.parts]
    loop = asyncio.get_running_loop()
    peer = await AudioSocketPeer.connect("127.0.0.1", port, leg, rate=8000)
    try:
        await peer.wait_until_bot_quiet(600, timeout_s=60)  # the greeting
        await peer.play(hello)
        await peer.wait_until_bot_quiet(600, since=loop.time(), timeout_s=60)  # the question
        began = loop.time()
        for index, pcm in enumerate(parts):
            if index:
                await asyncio.sleep(DICTATION_PAUSE_S)
            await peer.play(pcm)
        stopped = loop.time()
        answered = await peer.wait_for_bot_speech(since=began, timeout_s=60)
        await peer.wait_until_bot_quiet(600, since=stopped, timeout_s=60)
    finally:
        await peer.hang_up()
    cell.stt_requests += sum(1 for t in speech.transcriptions if t.call_id == f"call-{leg}")
    if answered < stopped:
        cell.cut += 1
    else:
        cell.latencies_ms.append((answered - stopped) * 1000)


async def run(calls: int, stt_latency_ms: int) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_ROOT))

    from tests.support.fake_llm import FakeLLM
    from tests.support.fake_openai_audio import FakeSpeech
    from tests.support.servers import free_port, postgres_database, store_api_server
    from tests.support.temporal import temporal_dev_server

    cells = {config: {kind.name: Cell() for kind in KINDS} for config in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="vo-bench-eot-") as tmp:
        workdir = Path(tmp)
        async with (
            postgres_database(workdir) as database_url,
            store_api_server(database_url) as store_api,
            FakeLLM() as llm,
            FakeSpeech(default_transcript=ANYTHING_HEARD) as speech,
            temporal_dev_server() as temporal,
        ):
            speech.set_latency(stt_latency_ms / 1000)
            queue = f"bench-eot-{uuid.uuid4().hex[:6]}"
            env = {
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "LOG_LEVEL": "WARNING",
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
            }
            polling = worker_polling(temporal.client, queue)
            voiceorder = [sys.executable, "-m", "voiceorder"]
            async with child_process("worker", [*voiceorder, "worker"], env, polling, workdir):
                for config, variables in CONFIGS.items():
                    port = free_port()

                    async def listening(port: int = port) -> bool:
                        return await port_taken(port)

                    edge_env = {**env, **variables, "AUDIOSOCKET_PORT": str(port)}
                    name = f"edge-{config.replace(' ', '-')}"
                    async with child_process(
                        name, [*voiceorder, "edge"], edge_env, listening, workdir
                    ):
                        for kind in KINDS:
                            cell = cells[config][kind.name]
                            await asyncio.gather(
                                *(_call(port, llm, speech, kind, cell) for _ in range(calls))
                            )
    return {
        "benchmark": "end of turn",
        "calls_per_cell": calls,
        "stt_latency_ms": stt_latency_ms,
        "dictation_pause_ms": round(DICTATION_PAUSE_S * 1000),
        "results": {
            config: {kind: cell.summary() for kind, cell in by_kind.items()}
            for config, by_kind in cells.items()
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown(result: dict[str, Any]) -> str:
    configs = list(result["results"])
    lines = [
        f"{result['calls_per_cell']} calls per cell; STT {result['stt_latency_ms']} ms, LLM"
        " instant, TTS espeak; end of the caller's speech → the bot's first audio (peer clock),"
        " p50 / p95 ms; cut = the bot answered before the caller had finished; STT requests"
        " per call (two turns: «Алло» and the answer)",
        "",
        "| caller's answer | " + " | ".join(configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for kind in KINDS:
        cells = []
        for config in configs:
            cell = result["results"][config][kind.name]
            timing = (
                f"{cell['p50_ms']:.0f} / {cell['p95_ms']:.0f}"
                if cell["p50_ms"] is not None
                else "—"
            )
            cut = f", cut {cell['cut']}/{cell['calls']}" if cell["cut"] else ""
            cells.append(f"{timing}{cut}; STT ×{cell['stt_requests_per_call']}")
        lines.append(f"| {kind.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "end_of_turn.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path
