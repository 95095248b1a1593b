"""`voiceorder history export`: save a workflow history as JSON (for tests/histories/)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from temporalio.service import RPCError

from core.process_exit import exit_now
from core.service_cli import connect_or_explain
from core.settings import get_settings


async def export_history(workflow_id: str, run_id: str | None) -> str:
    client = await connect_or_explain(get_settings())
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    return history.to_json()


@click.group("history")
def history_group() -> None:
    """Workflow histories for replay tests."""


@click.command("export")
@click.argument("workflow_id")
@click.option("--run-id", help="A specific run (default: the latest).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
def export_command(workflow_id: str, run_id: str | None, output: Path | None) -> None:
    """Export the history of WORKFLOW_ID (e.g. call-…) as JSON."""
    try:
        text = asyncio.run(export_history(workflow_id, run_id))
    except RPCError as exc:
        raise click.ClickException(f"cannot export {workflow_id}: {exc.message}") from None
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    exit_now(0)


history_group.add_command(export_command)
