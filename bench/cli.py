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


@bench_group.command("codec")
@click.option("--rounds", default=500, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--history",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A recorded call history [default: tests/histories/s4_courier_order.json].",
)
def codec_command(rounds: int, history: Path | None) -> None:
    """The payload codec's cost per turn: encrypt and decrypt what a recorded call wrote."""
    from bench.codec import DEFAULT_HISTORY, markdown, run, save

    result = asyncio.run(run(rounds, history or DEFAULT_HISTORY))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)


def _numbers(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers, e.g. 25,50,100") from None
    if not numbers or min(numbers) < 1:
        raise click.BadParameter("at least one number, each 1 or more")
    return numbers


@bench_group.command("calls")
@click.option(
    "--calls",
    "levels",
    default="25,50,100,200",
    show_default=True,
    callback=_numbers,
    help="Concurrent calls per level, comma-separated.",
)
@click.option(
    "--agent",
    "agents",
    type=click.Choice(["guided", "llm"]),
    multiple=True,
    help="Agent to measure (repeatable) [default: both].",
)
@click.option("--turns", default=10, show_default=True, type=click.IntRange(1, 10))
@click.option("--think", default=4.0, show_default=True, type=click.FloatRange(0), help="Seconds.")
@click.option(
    "--model-latency",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds the fake model takes per request.",
)
@click.option(
    "--baseline-calls",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Single calls, one after another, for the baseline.",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Sample the worker with py-spy during each level (raw stacks beside the JSON).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the JSON goes [default: bench/results/calls.json].",
)
def calls_command(
    levels: tuple[int, ...],
    agents: tuple[str, ...],
    turns: int,
    think: float,
    model_latency: float,
    baseline_calls: int,
    profile: bool,
    output: Path | None,
) -> None:
    """B2: N concurrent calls through `caller_said` (guided and LLM agents, one worker):
    turn overhead against a single call, and the N where p95 passes 250 ms. Exits 1 when
    calls failed."""
    from bench.calls import DEFAULT_OUTPUT, markdown, run, save
    from core.vocabulary import AgentMode

    path = output or DEFAULT_OUTPUT
    chosen = tuple(AgentMode(a) for a in agents) or (AgentMode.GUIDED, AgentMode.LLM)
    click.echo(
        f"B2: starting PostgreSQL, Temporal, the Store API and a worker; N = {levels},"
        f" {turns} turns every ~{think} s, agents {[a.value for a in chosen]}…"
    )
    result = asyncio.run(
        run(
            levels,
            chosen,
            turns=turns,
            think_s=think,
            model_latency_s=model_latency,
            baseline_calls=baseline_calls,
            output=path,
            profile=profile,
        )
    )
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result, path)}")
    exit_now(1 if result["problems"] else 0)


@bench_group.command("edge-pacing")
@click.option(
    "--calls",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Concurrent calls into the edge (EDGE_MAX_CALLS is raised to match).",
)
@click.option(
    "--baseline-seconds",
    default=6.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Length of each baseline call.",
)
def edge_pacing_command(calls: int, baseline_seconds: float) -> None:
    """The edge's outbound 20 ms pacing (lateness, gaps, silence before the greeting)."""
    from bench.edge_pacing import markdown, run, save

    click.echo(f"edge pacing: starting the stack, the edge and {calls} simulated calls…")
    result = asyncio.run(run(calls, baseline_seconds))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result)}")
    exit_now(0)


@bench_group.command("end-of-turn")
@click.option("--calls", default=5, show_default=True, help="Calls per kind and configuration.")
@click.option("--stt-ms", default=150, show_default=True, help="Latency of the fake STT.")
def end_of_turn_command(calls: int, stt_ms: int) -> None:
    """The end of a caller's turn: fixed 700 ms against the wait per expectation and early
    transcripts (end of speech → first bot audio; dictations cut)."""
    from bench.end_of_turn import markdown, run, save

    click.echo("end of turn: starting the stack, a worker and one edge per configuration…")
    result = asyncio.run(run(calls, stt_ms))
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


@bench_group.command("streams")
@click.option(
    "--calls",
    default="100,200,300,400",
    show_default=True,
    help="Concurrent calls per step, comma-separated.",
)
@click.option(
    "--seconds",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Measured seconds per step.",
)
@click.option(
    "--ramp",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds over which calls connect.",
)
@click.option(
    "--settle",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds after the ramp, unmeasured.",
)
@click.option(
    "--rate",
    default="16000",
    show_default=True,
    type=click.Choice(["8000", "16000"]),
    help="Audio both ways: 16000 (ARI slin16) or 8000 (the dialplan AudioSocket() path).",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Edge processes sharing the port (SO_REUSEPORT).",
)
@click.option(
    "--edge-cores", default=1, show_default=True, type=click.IntRange(min=1), help="CPUs for edges."
)
@click.option(
    "--unbatched",
    is_flag=True,
    help="Run the VAD one window at a time (as before batching), for comparison.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the JSON goes [default: bench/results/streams.json].",
)
def streams_command(
    calls: str,
    seconds: float,
    ramp: float,
    settle: float,
    rate: str,
    processes: int,
    edge_cores: int,
    unbatched: bool,
    output: Path | None,
) -> None:
    """B3: concurrent AudioSocket calls one edge core carries at p99 frame lateness < 10 ms."""
    from bench.streams import DEFAULT_OUTPUT, StreamsConfig, markdown, run, save

    try:
        counts = tuple(int(part) for part in calls.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"not a list of numbers: {calls!r}", param_hint="--calls"
        ) from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("give at least one call count, each ≥ 1", param_hint="--calls")
    config = StreamsConfig(
        calls=counts,
        seconds=seconds,
        ramp_s=ramp,
        settle_s=settle,
        rate=int(rate),
        processes=processes,
        edge_cores=edge_cores,
        batched=not unbatched,
    )
    click.echo(
        f"B3: calls {list(counts)}, {processes} edge process(es); a step takes"
        f" ~{ramp + settle + seconds + 3:.0f} s plus a baseline step…"
    )
    result = asyncio.run(run(config))
    click.echo(markdown(result))
    click.echo(f"\nJSON: {save(result, output or DEFAULT_OUTPUT)}")
    exit_now(0)
