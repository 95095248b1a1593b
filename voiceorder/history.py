"""`voiceorder history export`: save a workflow history as JSON (for tests/histories/).

Payloads come out decrypted with the configured keys (readable, and replayable anywhere),
or exactly as the server stores them with `--as-stored` (replayable only with the keys).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError

from core.history_payloads import decode_in_place
from core.payload_codec import PayloadDecryptionError
from core.process_exit import exit_now
from core.service_cli import connect_or_explain
from core.settings import get_settings


async def export_history(workflow_id: str, run_id: str | None, *, as_stored: bool = False) -> str:
    client = await connect_or_explain(get_settings())
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    codec = client.data_converter.payload_codec
    if as_stored or codec is None:
        return history.to_json()
    # Decrypt in place; without keys, plaintext passes and ciphertext is refused by key id.
    decoded = History(events=history.events)
    await decode_in_place(decoded, codec)
    return WorkflowHistory(history.workflow_id, decoded.events).to_json()


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
@click.option(
    "--as-stored",
    is_flag=True,
    help="Keep payloads as the server stores them (encrypted) instead of decrypting them.",
)
def export_command(
    workflow_id: str, run_id: str | None, output: Path | None, as_stored: bool
) -> None:
    """Export the history of WORKFLOW_ID (e.g. call-…) as JSON, payloads decrypted."""
    try:
        text = asyncio.run(export_history(workflow_id, run_id, as_stored=as_stored))
    except RPCError as exc:
        raise click.ClickException(f"cannot export {workflow_id}: {exc.message}") from None
    except PayloadDecryptionError as exc:
        raise click.ClickException(
            f"cannot decrypt {workflow_id}: {exc} (or export it with --as-stored)"
        ) from None
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    exit_now(0)


history_group.add_command(export_command)
