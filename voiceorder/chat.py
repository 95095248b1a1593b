"""`voiceorder chat`: a text softphone that talks to a running stack through the real workflow.

Caller lines come from the terminal or from a script file (one line per turn). Lines that
start with `/` are actions instead of speech:
  /press 1      DTMF digits          /silence     the caller says nothing
  /cut          the last reply was interrupted before its end (barge-in)
  /hangup       the caller hangs up  # …          a comment (script files)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import click
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.caller_text import clean_caller_text
from core.process_exit import exit_now
from core.service_cli import connect_or_explain
from core.settings import get_settings
from core.temporal import ui_link
from core.vocabulary import Action
from workflows.client import CallIdInUse, CallSession, agent_for, lookup_limits_for
from workflows.models import CallStart, Reply

AGENT_NAMES = {
    "llm": "LLM",
    "auto": "LLM (при сбое — короткие вопросы)",
    "guided": "короткие вопросы, без LLM",
}


async def _lines_from_terminal() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        try:
            line = await loop.run_in_executor(None, lambda: input("вы> "))
        except EOFError:
            return
        yield line


async def _lines_from(script: Iterable[str]) -> AsyncIterator[str]:
    for line in script:
        yield line.rstrip("\n")


def _show(reply: Reply) -> None:
    action = "" if reply.action is Action.CONTINUE else f", {reply.action.value}"
    # Shown as printable text: an escape sequence in a reply must not drive the terminal.
    click.echo(f"бот> {clean_caller_text(reply.text)}   [{reply.stage}{action}]")


async def run_chat(phone: str | None, script: list[str] | None, call_id: str | None = None) -> int:
    settings = get_settings()
    client = await connect_or_explain(settings)
    agent = agent_for(settings)
    try:
        session = await CallSession.start(
            client,
            settings.temporal_task_queue,
            CallStart(
                caller_number=phone,
                source="chat",
                attention_after_s=settings.call_attention_after_s,
                agent=agent,
                lookup_limits=lookup_limits_for(settings),
            ),
            call_id=call_id,
        )
    except CallIdInUse as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"звонок {session.call_id}: {ui_link(settings, session.call_id)}")
    click.echo(f"агент: {AGENT_NAMES[agent]}")
    if session.last_reply is not None:
        _show(session.last_reply)
    lines = _lines_from(script) if script is not None else _lines_from_terminal()
    ended = False
    try:
        async for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if script:
                click.echo(f"вы> {clean_caller_text(line)}")  # what the bot will hear
            try:
                reply = await _act(session, line)
            except (WorkflowUpdateFailedError, RPCError) as exc:
                click.echo(f"(звонок не принял реплику: {_refusal(exc)})", err=True)
                continue
            except BadAction as exc:
                click.echo(f"({exc})", err=True)
                continue
            if reply is None or reply.action is not Action.CONTINUE:
                ended = True
                if reply is not None:
                    _show(reply)
                break
            _show(reply)
    finally:
        if not ended:
            # Also on Ctrl-C or a failure: a call left open would wait ten minutes for input.
            await session.hang_up("chat ended")
    outcome = await session.result()
    click.echo(f"итог звонка: {outcome} — {ui_link(settings, session.call_id)}")
    return 0


def _refusal(exc: Exception) -> str:
    """Why the call refused a line: the validator's reason ("empty utterance"), not just
    "Workflow update failed"."""
    cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else None
    return str(cause) if cause is not None else str(exc)


class BadAction(ValueError):
    """A `/` line the softphone cannot send; the message says what it accepts."""


KEYS = re.compile(r"[0-9*#]{1,20}")


async def _act(session: CallSession, line: str) -> Reply | None:
    if line.startswith("/press"):
        keys = line.removeprefix("/press").strip()
        if not KEYS.fullmatch(keys):
            raise BadAction("/press takes 1–20 keys from 0–9, * and #, e.g. /press 102045#")
        return await session.press(keys)
    if line == "/silence":
        return await session.silence()
    if line == "/cut":
        session.report_playback(played_to_end=False)
        return session.last_reply
    if line == "/hangup":
        await session.hang_up("caller")
        return None
    return await session.say(line)


# Becomes part of idempotency and audit keys (at most 255 characters in the Store API).
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


def _valid_call_id(value: str | None) -> str | None:
    if value is not None and not CALL_ID.fullmatch(value):
        raise click.BadParameter(
            "1–100 characters: letters, digits, '.', '_', ':' or '-', starting with a letter"
            " or digit"
        )
    return value


@click.command("chat")
@click.option("--phone", help="Caller number as CallerID would give it, e.g. +79161234567.")
@click.option("--withheld", is_flag=True, help="Call with a withheld CallerID.")
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Caller lines from a file instead of the terminal.",
)
@click.option(
    "--call-id",
    callback=lambda _ctx, _param, value: _valid_call_id(value),
    help="Workflow id to use, never used before (default: call-<new uuid>).",
)
def chat_command(
    phone: str | None, withheld: bool, script: Path | None, call_id: str | None
) -> None:
    """Talk to the bot in text through a real CallWorkflow (needs `voiceorder up`)."""
    if phone and withheld:
        raise click.UsageError("--phone and --withheld exclude each other")
    if not phone and not withheld:
        phone = "+79161234567"  # Анна Смирнова from the demo data
    # Bytes that are not UTF-8 become U+FFFD: a hostile file is a caller's line, not a crash.
    lines = script.read_text("utf-8", errors="replace").splitlines() if script else None
    code = asyncio.run(run_chat(None if withheld else phone, lines, call_id))
    exit_now(code)
