"""`voiceorder bench …`: run a benchmark, print a table, write JSON to bench/results/."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from core.process_exit import exit_now


@click.group("bench")
def bench_group() -> None:
    """Benchmarks of quality.md (numbers are reported, not asserted)."""


@bench_group.command("turn")
@click.option("--turns", default=200, show_default=True, help="Measured turns.")
@click.option("--warmup", default=20, show_default=True, help="Turns before measuring.")
def turn_command(turns: int, warmup: int) -> None:
    """B1: caller-turn orchestration overhead next to the no-op update floor."""
    from bench.turn import markdown, run, save

    click.echo(f"B1: starting PostgreSQL, Temporal, Store API, worker; {warmup}+{turns} turns…")
    result = asyncio.run(run(turns, warmup))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)


@bench_group.command("edge-pacing")
@click.option("--calls", default=5, show_default=True, help="Concurrent calls into the edge.")
@click.option(
    "--baseline-seconds", default=6.0, show_default=True, help="Length of each baseline call."
)
def edge_pacing_command(calls: int, baseline_seconds: float) -> None:
    """The edge's outbound 20 ms pacing (lateness, gaps, silence before the greeting)."""
    from bench.edge_pacing import markdown, run, save

    click.echo(f"edge pacing: starting the stack, the edge and {calls} simulated calls…")
    result = asyncio.run(run(calls, baseline_seconds))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)


@bench_group.command("store")
@click.option("--clients", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--orders", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--retry-rate",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of keyed requests (create, confirm) sent again with the same key.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the JSON goes [default: bench/results/store.json].",
)
def store_command(clients: int, orders: int, retry_rate: float, output: Path | None) -> None:
    """B5: Store API throughput and latency under concurrent, retrying clients; duplicate
    orders counted in PostgreSQL. Exits 1 when idempotency broke or orders failed."""
    from bench.store import DEFAULT_OUTPUT, markdown, run, save

    path = output or DEFAULT_OUTPUT
    log = path.with_name("store_api.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    click.echo(
        f"B5: starting PostgreSQL and the Store API; {clients} clients, {orders} orders,"
        f" {retry_rate:.0%} resent (server log: {log})…"
    )
    result = asyncio.run(run(clients, orders, retry_rate, log))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result, path)}")
    exit_now(1 if result["problems"] else 0)


@bench_group.command("stream-channel")
@click.option("--sentences", default=300, show_default=True, help="Sentences per measurement.")
@click.option("--streams", default=8, show_default=True, help="Concurrent streams.")
@click.option("--turns", default=50, show_default=True, help="Workflow-update turns per channel.")
@click.option("--gap-ms", default=20.0, show_default=True, help="Pause between sentences.")
@click.option("--channel", "only", multiple=True, help="Measure only these channels (repeatable).")
def stream_channel_command(
    sentences: int, streams: int, turns: int, gap_ms: float, only: tuple[str, ...]
) -> None:
    """Worker → edge channel for streamed replies: publish → receive latency per channel."""
    from bench.stream_channel import markdown, run, save

    click.echo("stream channel: starting PostgreSQL, Temporal and the candidate channels…")
    result = asyncio.run(run(sentences, streams, turns, gap_ms, frozenset(only)))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)


@bench_group.command("voice")
@click.option(
    "--samples",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measured turns per kind and path.",
)
@click.option("--stt-ms", default=150.0, show_default=True, help="STT fake latency.")
@click.option("--llm-first-token-ms", default=350.0, show_default=True)
@click.option("--llm-tokens-per-s", default=40.0, show_default=True)
@click.option("--tts-first-byte-ms", default=100.0, show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the JSON goes [default: bench/results/voice.json].",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the processes' logs here (the edges' turn_latency records among them).",
)
@click.option(
    "--kind",
    "only",
    multiple=True,
    type=click.Choice(["plain", "tool", "guided", "yes"]),
    help="Measure only these kinds of turn (repeatable).",
)
def voice_command(
    samples: int,
    stt_ms: float,
    llm_first_token_ms: float,
    llm_tokens_per_s: float,
    tts_first_byte_ms: float,
    output: Path | None,
    workdir: Path | None,
    only: tuple[str, ...],
) -> None:
    """B4: end of the caller's speech → first bot audio, per kind of turn, streamed replies
    against today's path, next to the floor of the configured latencies."""
    from bench.voice import DEFAULT_OUTPUT, Latencies, markdown, run, save

    latencies = Latencies(
        stt_ms=stt_ms,
        llm_first_token_ms=llm_first_token_ms,
        llm_tokens_per_s=llm_tokens_per_s,
        tts_first_byte_ms=tts_first_byte_ms,
    )
    click.echo(
        f"B4: starting PostgreSQL, Temporal, Store API, a worker and edges; {samples} turns "
        "per kind and path…"
    )
    result = asyncio.run(run(samples, latencies, workdir, frozenset(only)))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result, output or DEFAULT_OUTPUT)}")
    exit_now(0)


@bench_group.command("echo")
@click.option(
    "--line",
    type=click.Choice(["flat", "hybrid"]),
    default="flat",
    show_default=True,
    help="flat: the echo is the bot's audio, attenuated and delayed; hybrid: band-limited "
    "and smeared as a 2-wire hybrid returns it.",
)
@click.option(
    "--options",
    default="none,gate,webrtc-aec3,speex,speex-rust",
    show_default=True,
    help="Comma-separated echo options to measure (missing libraries are reported).",
)
def echo_command(line: str, options: str) -> None:
    """Echo-safe barge-in: false barge-ins from the bot's echo, onset → pause of a caller."""
    from bench.echo import OPTIONS, markdown, run, save

    chosen = [name.strip() for name in options.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in OPTIONS]
    if unknown:
        raise click.BadParameter(f"unknown options {unknown}; known: {sorted(OPTIONS)}")
    click.echo(f"echo: {len(chosen)} options × 12 echo cells × 9 runs, offline…")
    result = run(chosen, line)
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)
