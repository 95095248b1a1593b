"""B1: orchestration overhead of one caller turn, next to the no-op update floor.

Everything real runs on this machine (Temporal dev server, PostgreSQL, Store API, worker);
the LLM is the test fake (an OpenAI-compatible HTTP server). One turn = the `caller_said`
update round trip for a turn with one tool call (`search_products` → Store API) and two
agent steps (the tool call, then the answer). The fake LLM's and the Store API's own time
are measured directly in the same run and subtracted:

    overhead = turn − 2 × LLM round trip − Store API search round trip
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import openai

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
TURNS_PER_CALL = 10


@dataclass
class Stats:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(
            p50_ms=round(statistics.median(ordered), 2),
            p95_ms=round(p95, 2),
            mean_ms=round(statistics.fmean(ordered), 2),
            n=len(ordered),
        )


async def _timed(n: int, action: Callable[[], Awaitable[Any]]) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def run(turns: int, warmup: int) -> dict[str, Any]:
    # Benchmarks run from a checkout and reuse the test suite's real-server helpers.
    sys.path.insert(0, str(PROJECT_ROOT))
    import tempfile

    from bench.noop import NoopWorkflow
    from core.settings import Settings, StoreApiMode
    from core.startup_heap import freeze_startup_heap
    from core.vocabulary import SmsProvider
    from tests.support.fake_llm import FakeLLM, Reply
    from tests.support.servers import postgres_database, store_api_server
    from tests.support.temporal import temporal_dev_server
    from workers.worker import activity_set, build_worker
    from workflows.client import CallSession
    from workflows.models import CallStart

    with tempfile.TemporaryDirectory(prefix="vo-bench-") as tmp:
        async with (
            postgres_database(Path(tmp)) as database_url,
            store_api_server(database_url) as store_api,
            FakeLLM() as llm,
            temporal_dev_server() as env,
        ):
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                store_api_url=store_api.base_url,
                store_api_token=store_api.token,
                store_api_mode=StoreApiMode.TEST,
                openai_base_url=llm.base_url,
                openai_api_key="bench",
                temporal_task_queue="bench",
                sms_provider=SmsProvider.DATABASE,
            )
            async with activity_set(settings) as activities:
                worker = build_worker(
                    env.client, settings, activities, extra_workflows=[NoopWorkflow]
                )
                freeze_startup_heap()  # as `voiceorder worker` does
                async with worker:
                    noop = await env.client.start_workflow(
                        NoopWorkflow.run, id=f"bench-noop-{uuid.uuid4()}", task_queue="bench"
                    )
                    await _timed(warmup, lambda: noop.execute_update(NoopWorkflow.noop))
                    floor = await _timed(turns, lambda: noop.execute_update(NoopWorkflow.noop))
                    await noop.signal(NoopWorkflow.finish)

                    # Calls of TURNS_PER_CALL turns each, like a real conversation: the
                    # context the LLM gets (and the workflow carries) stays call-sized.
                    step = [Reply.tool("search_products", {"query": "гречка"}), Reply.text("Да.")]
                    turn: list[float] = []
                    calls_needed = -(-(turns + warmup) // TURNS_PER_CALL)
                    for index in range(calls_needed):
                        call_id = f"call-bench-{uuid.uuid4()}"
                        llm.script(call_id, step * TURNS_PER_CALL)
                        call = await CallSession.start(
                            env.client,
                            "bench",
                            CallStart(caller_number="+79857778899"),
                            call_id=call_id,
                        )
                        samples = await _timed(TURNS_PER_CALL, partial(call.say, "Есть гречка?"))
                        turn += samples if index else samples[1:]  # the very first turn warms up
                        await call.hang_up()
                        await call.result()
                    turn = turn[-turns:]

            llm.script("calibration", [Reply.text("Да.")] * (turns + warmup))
            async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="bench") as ai:

                async def ask() -> None:
                    await ai.chat.completions.create(
                        model="fake",
                        messages=[{"role": "user", "content": "Есть гречка?"}],
                        extra_headers={"X-Call-Id": "calibration"},
                    )

                await _timed(warmup, ask)
                llm_rt = await _timed(turns, ask)
            async with httpx.AsyncClient(
                base_url=store_api.base_url, headers=store_api.auth
            ) as api:

                async def search() -> None:
                    (
                        await api.get("/products/search", params={"q": "гречка", "limit": 3})
                    ).raise_for_status()

                await _timed(warmup, search)
                store_rt = await _timed(turns, search)

    llm_ms, store_ms = statistics.median(llm_rt), statistics.median(store_rt)
    overhead = [t - 2 * llm_ms - store_ms for t in turn]
    return {
        "benchmark": "B1 turn overhead",
        "turns": turns,
        "turns_per_call": TURNS_PER_CALL,
        "floor_noop_update": asdict(Stats.of(floor)),
        "turn_round_trip": asdict(Stats.of(turn)),
        "llm_round_trip": asdict(Stats.of(llm_rt)),
        "store_api_round_trip": asdict(Stats.of(store_rt)),
        "overhead": asdict(Stats.of(overhead)),
        "targets": {"overhead_p50_ms": 25, "overhead_p95_ms": 50},
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ("no-op update (floor)", result["floor_noop_update"]),
        ("caller turn, round trip", result["turn_round_trip"]),
        ("fake LLM round trip (×2 per turn)", result["llm_round_trip"]),
        ("Store API search round trip", result["store_api_round_trip"]),
        ("**turn overhead**", result["overhead"]),
    ]
    lines = ["| what | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {name} | {s['p50_ms']} | {s['p95_ms']} |" for name, s in rows]
    floor = result["floor_noop_update"]["p50_ms"] or 1
    lines.append(f"\noverhead p50 = {result['overhead']['p50_ms'] / floor:.1f} × the floor")
    return "\n".join(lines)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "turn.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
