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
