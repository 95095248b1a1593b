"""B3 (`voiceorder bench streams`) at a tiny size: two edge processes share one port, a few
calls stream speech both ways, and the JSON says what the benchmark claims to measure. No
timing is asserted; the numbers belong to the benchmark."""

from __future__ import annotations

from pathlib import Path

from tests.bench.run import run_bench

CALLS = 6


async def test_bench_streams_at_a_tiny_size_writes_its_report(tmp_path: Path) -> None:
    output = tmp_path / "streams.json"
    text, result = await run_bench(
        "streams",
        "--calls",
        str(CALLS),
        "--seconds",
        "4",
        "--ramp",
        "0.5",
        "--settle",
        "1",
        "--processes",
        "2",
        output=output,
    )
    assert "streams per core" in text

    assert result["edge_processes"] == 2 and result["rate"] == 16000
    [step] = result["steps"]
    baseline = result["baseline_silence_only"]
    assert step["calls"] == baseline["calls"] == CALLS
    assert step["speech"] and not baseline["speech"]
    for measured in (step, baseline):
        peer, server = measured["peer"], measured["server"]
        assert peer["frames_measured"] > 0 and peer["frames_sent"] > 0
        for field in (
            "lateness_p50_ms",
            "lateness_p99_ms",
            "lateness_max_ms",
            "spread_p99_ms",
            "gaps",
        ):
            assert peer[field] >= 0
        assert peer["calls_cut_by_edge"] == 0
        # Every call reached one of the two processes sharing the port, and ended there.
        assert server["calls"] == CALLS and server["processes"] == 2 and server["complete"]
        assert sum(server["calls_per_process"]) == CALLS
        assert server["frames_sent"] > 0 and server["lateness_p99_ms"] >= 0
        assert server["vad_streams_open_after"] == 0
        assert measured["edge_cpu_cores"] >= 0
        assert set(measured["edge_rss_mb"]) == {"before", "during", "after"}
        assert isinstance(measured["passed"], bool)
    # The caller spoke half of the time: the endpointer found utterances, the model ran.
    assert step["server"]["utterances"] > 0
    assert step["server"]["vad_windows_per_model_run"] >= 1
    assert baseline["server"]["utterances"] == 0
    assert result["max_calls_passing"] in (0, CALLS)
    assert result["streams_per_core"] >= 0
