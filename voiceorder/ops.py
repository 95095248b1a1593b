"""`voiceorder ops`: find and fix calls that need a human, from a terminal.

Built on what works without a worker (visibility: search attributes and memo) plus the
audit table, and on the workflow's operator updates (`operator_retry_now`, …), so the
terminal and the Temporal UI act through the same validated, audited paths.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
import click
from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.audit import AuditEntry, audit_trail
from core.payload_codec import PayloadDecryptionError
from core.process_exit import exit_now
from core.service_cli import connect_or_explain
from core.settings import Settings, get_settings
from core.temporal import ui_link
from voiceorder.stack.postgres import EmbeddedPostgres
from voiceorder.stack.up import DATABASE
from workflows.models import (
    ATTENTION,
    CALL_STAGE,
    CALLER_PHONE,
    ORDER_NUMBER,
    STATE_QUERY,
    CallUpdate,
    OperatorCancel,
    OperatorResend,
    OperatorRetry,
)
from workflows.state import CallState

CALLS = 'WorkflowType = "CallWorkflow"'
RUNNING_CALLS = f'{CALLS} AND ExecutionStatus = "Running"'
# An update needs a live worker; without one the terminal should not wait forever.
UPDATE_TIMEOUT_S = 30


@dataclass(frozen=True)
class StuckCall:
    call_id: str
    started: dt.datetime
    stage: str
    order: str
    phone: str
    attention: str
    last_error: str

    def age(self, now: dt.datetime) -> str:
        minutes = int((now - self.started).total_seconds() // 60)
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


async def calls_needing_attention(client: Client, *, finished_too: bool = False) -> list[StuckCall]:
    found = []
    async for execution in client.list_workflows(CALLS if finished_too else RUNNING_CALLS):
        attributes = execution.typed_search_attributes
        attention = attributes.get(ATTENTION) or ""
        if not attention:
            continue
        memo = await execution.memo()
        found.append(
            StuckCall(
                call_id=execution.id,
                started=execution.start_time,
                stage=attributes.get(CALL_STAGE) or "?",
                order=attributes.get(ORDER_NUMBER) or "",
                phone=attributes.get(CALLER_PHONE) or "",
                attention=attention,
                last_error=str(memo.get("last_error", "")),
            )
        )
    return sorted(found, key=lambda call: call.started)


def table(rows: list[StuckCall], now: dt.datetime) -> str:
    header = ("CALL", "AGE", "STAGE", "ORDER", "PHONE", "ATTENTION", "LAST ERROR")
    cells = [header] + [
        (r.call_id, r.age(now), r.stage, r.order, r.phone, r.attention, r.last_error) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def database_url(settings: Settings) -> str:
    """The bot database: DATABASE_URL, or the embedded one `voiceorder up` runs."""
    if settings.database_url:
        return settings.database_url
    return EmbeddedPostgres(settings.data_dir / "postgres", settings.embedded_pg_port).url(DATABASE)


async def _audit(settings: Settings, call_id: str) -> list[AuditEntry] | str:
    try:
        pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=1, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"(audit unavailable: {exc})"
    try:
        return await audit_trail(pool, call_id=call_id)
    except asyncpg.PostgresError as exc:
        return f"(audit unavailable: {exc})"
    finally:
        await pool.close()


async def show(settings: Settings, call_id: str) -> str:
    client = await connect_or_explain(settings)
    handle = client.get_workflow_handle(call_id)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    lines = [
        f"call      {call_id}",
        f"status    {description.status.name if description.status else '?'}",
        f"started   {description.start_time:%Y-%m-%d %H:%M:%S %Z}",
        f"stage     {attributes.get(CALL_STAGE) or '?'}",
        f"order     {attributes.get(ORDER_NUMBER) or '—'}",
        f"phone     {attributes.get(CALLER_PHONE) or '—'}",
        f"attention {attributes.get(ATTENTION) or '—'}",
        f"UI        {ui_link(settings, call_id)}",
    ]
    try:
        state = await asyncio.wait_for(handle.query(STATE_QUERY, result_type=CallState), timeout=5)
        job = state.confirm_job
        lines.append(f"last error {state.last_error or '—'}")
        if job is not None:
            lines.append(
                f"pending   confirm order {job.number}: round {job.rounds}, {job.last_error}"
            )
        unsent = [c.number for c in state.confirmed if not (c.sms_sent or c.cancelled)]
        if unsent:
            lines.append(f"pending   SMS for order {', '.join(unsent)}")
    except (TimeoutError, RPCError):
        lines.append(
            "live state unavailable (no worker answers queries); attributes above are current"
        )
    trail = await _audit(settings, call_id)
    lines.append("audit:")
    if isinstance(trail, str):
        lines.append(f"  {trail}")
    else:
        for entry in trail:
            lines.append(
                f"  {entry.at:%H:%M:%S}  {entry.event.value:<22} {entry.actor:<18} "
                f"{entry.order_number or '':<8} {_short(entry.details)}"
            )
    return "\n".join(lines)


def _short(details: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in details.items() if k != "text")
    return text if len(text) <= 80 else text[:77] + "…"


async def act(settings: Settings, call_id: str, update: CallUpdate, request: BaseModel) -> str:
    client = await connect_or_explain(settings)
    handle = client.get_workflow_handle(call_id)
    try:
        result = await asyncio.wait_for(
            handle.execute_update(update, request, result_type=str), UPDATE_TIMEOUT_S
        )
    except TimeoutError:
        raise click.ClickException(
            f"no worker answered within {UPDATE_TIMEOUT_S} s — is `voiceorder worker` running? "
            "The request may still be applied when a worker comes back; check `ops show`."
        ) from None
    return str(result)


def _run(coroutine: Any) -> None:
    """Run one ops coroutine, print its text, turn expected failures into one line.

    Every path leaves through `exit_now`: the process used a Temporal client (see
    core.process_exit).
    """
    try:
        click.echo(asyncio.run(coroutine))
    except click.ClickException as exc:
        _fail(exc.format_message())
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        _fail(f"refused: {getattr(cause, 'message', None) or str(cause or exc)}")
    except RPCError as exc:
        _fail(exc.message)
    except PayloadDecryptionError as exc:
        _fail(f"cannot decrypt what Temporal holds: {exc} (PAYLOAD_KEYS, PAYLOAD_KEYS_FILE)")
    exit_now(0)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    exit_now(1)


@click.group("ops")
def ops_group() -> None:
    """Calls that need a human: list, inspect, act."""


@ops_group.command("list")
@click.option(
    "--all",
    "finished_too",
    is_flag=True,
    help="Also finished calls that still carry Attention (confirm_failed, edge_lost, …).",
)
def list_command(finished_too: bool) -> None:
    """Calls whose Attention is set, oldest first (running ones unless --all)."""
    settings = get_settings()

    async def run() -> str:
        client = await connect_or_explain(settings)
        rows = await calls_needing_attention(client, finished_too=finished_too)
        if not rows:
            return "No call needs attention."
        return table(rows, dt.datetime.now(dt.UTC))

    _run(run())


@ops_group.command("show")
@click.argument("call_id")
def show_command(call_id: str) -> None:
    """State, pending work, audit trail and the UI link of CALL_ID."""
    _run(show(get_settings(), call_id))


OPERATOR = click.option(
    "--operator", required=True, help="Your name: it goes into the audit record."
)


@ops_group.command("retry")
@click.argument("call_id")
@OPERATOR
def retry_command(call_id: str, operator: str) -> None:
    """Retry a postponed confirmation or SMS now."""
    _run(
        act(
            get_settings(), call_id, CallUpdate.OPERATOR_RETRY_NOW, OperatorRetry(operator=operator)
        )
    )


@ops_group.command("cancel")
@click.argument("call_id")
@OPERATOR
@click.option("--reason", required=True, help="Why the order is cancelled.")
def cancel_command(call_id: str, operator: str, reason: str) -> None:
    """Cancel the call's order in the Store API and stop retrying."""
    request = OperatorCancel(operator=operator, reason=reason)
    _run(act(get_settings(), call_id, CallUpdate.OPERATOR_CANCEL_ORDER, request))


@ops_group.command("resend")
@click.argument("call_id")
@OPERATOR
def resend_command(call_id: str, operator: str) -> None:
    """Send the order confirmation SMS again."""
    _run(
        act(
            get_settings(),
            call_id,
            CallUpdate.OPERATOR_RESEND_SMS,
            OperatorResend(operator=operator),
        )
    )
