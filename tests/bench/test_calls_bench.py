"""B2 (`voiceorder bench calls`) at a tiny size: the command runs on its own (PostgreSQL, the
Store API, Temporal, a worker process, the fake model), both agents' calls go through, and
its JSON carries every figure the docs report. No timing is asserted; the numbers belong to
the benchmark."""

from __future__ import annotations

from pathlib import Path

from tests.bench.run import run_bench

TURNS = 2


async def test_bench_calls_at_a_tiny_size_reports_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "calls.json"
    text, result = await run_bench(
        "calls",
        "--calls",
        "2",
        "--turns",
        str(TURNS),
        "--think",
        "0.1",
        "--model-latency",
        "0.05",
        "--baseline-calls",
        "1",
        output=output,
    )
    assert "| llm | 2 |" in text and "| guided | 2 |" in text

    assert result["problems"] == []
    assert result["levels"] == [2] and result["turns_per_call"] == TURNS
    assert set(result["agents"]) == {"guided", "llm"}
    for agent, found in result["agents"].items():
        single, (level,) = found["single"], found["levels"]
        assert single["single"] and not level["single"], agent
        assert (single["calls"], single["calls_run"], single["turns"]) == (1, 1, TURNS), agent
        assert (level["calls"], level["calls_run"], level["turns"]) == (2, 2, 2 * TURNS), agent
        for phase in (single, level):
            assert phase["failed_calls"] == 0 and phase["errors"] == [], (agent, phase)
            for figure in ("round_trip", "overhead", "greeting"):
                assert set(phase[figure]) == {"p50_ms", "p95_ms", "max_ms", "n"}, figure
            assert phase["overhead"]["n"] == phase["round_trip"]["n"] == phase["turns"]
            assert set(phase["cpu_s"]) == {
                "worker",
                "temporal",
                "store_api",
                "postgres",
                "callers_and_fake_model",
            }
            assert phase["cpu_s"]["worker"] is not None, "the worker's CPU is read"
            assert set(phase["waiting_for_cpu_s"]) == {"worker", "temporal", "store_api"}
            assert phase["turns_per_s"] > 0
        assert isinstance(level["p95_overhead_vs_single"], float)
        assert {"p95_passes_250ms_at", "largest_n_under_250ms"} <= set(found)
        assert found["target"]["n"] == 100 and found["target"]["met"] is None, "N=100 not run"
    # The LLM's turns waited for the fake model; its deliberate latency is not overhead.
    llm = result["agents"]["llm"]["single"]
    assert llm["overhead"]["p50_ms"] < llm["round_trip"]["p50_ms"]
    assert (tmp_path / "calls_worker.log").stat().st_size > 0  # the worker's own log
