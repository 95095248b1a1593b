"""`voiceorder bench …`: run a benchmark, print a table, write JSON to bench/results/."""

from __future__ import annotations

import asyncio

import click

from voiceorder.process_exit import exit_now


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
