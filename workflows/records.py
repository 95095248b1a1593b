"""`CallRecords`: the call's bookkeeping — stage moves, Attention, current details, idempotency
keys, audit records, the call log — and the background activities that write them.

A record is never worth the call: a write Temporal gave up on (a row the database refused,
or an outage longer than the retry window) sets `Attention=records_failed` and the call goes
on — its order work (a confirmation, the SMS, cancelling a draft) still runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.interfaces.audit import AuditActivities, AuditEvent, AuditRecord
    from activities.interfaces.call_log import (
        CallLogActivities,
        ToolCallLog,
        TurnBatch,
        TurnRecord,
        TurnTimings,
    )
    from core.phones import mask_phone
    from core.vocabulary import AgentMode, Attention, CallOutcome
    from store_api.contract import STORE_TZ
    from workflows.models import ATTENTION, CALL_STAGE, Reply
    from workflows.stages import Event, next_stage
    from workflows.state import CallInput, CallState

from workflows.activity_options import ACTIVITY_FAILED, DURABLE, error_type

# Patch id of the operator layer (memo with the last error, agent Attention, operator
# updates): calls recorded before it replay without these commands.
OPERATOR_LAYER = "operator-layer-1"
# Patch id of the guided agent (its activity, the switch from the LLM, the agent memo).
GUIDED_AGENT = "guided-agent-1"
# Patch id: a failed background write sets Attention instead of failing the call (before
# it, the failure reached `drain()` and failed the whole workflow).
RECORDS_NEVER_FAIL = "records-never-fail-1"
# Patch id of the batched call log: turns written TURNS_PER_WRITE at a time, not one
# activity per turn.
TURN_LOG_BATCHED = "turn-log-batched-1"
# Every background activity costs the server a workflow task when it completes — one per
# turn was a fifth of the Temporal server's CPU per turn and a sixth of the worker's (B2,
# docs/benchmarks.md). Batched, a live call's log trails by at most this many turns; the
# rest is written when the call ends or hands over to a new run (`drain`).
TURNS_PER_WRITE = 5

A = TypeVar("A")


@dataclass
class TurnLog:
    """Where one caller turn's time went, for the call log."""

    tools: list[ToolCallLog] = field(default_factory=list)
    agent_ms: float = 0.0
    tools_ms: float = 0.0


class CallRecords:
    """Everything the call writes down. Its own state: the background writes still running
    and the audit counter; the call's state (`CallState`) it shares with the other parts."""

    def __init__(self, call: CallInput, s: CallState) -> None:
        self.call = call
        self.s = s
        self._background: list[asyncio.Task[Any]] = []
        self._turns: list[TurnRecord] = []  # turns not yet handed to the call log
        self._audit_no = 0 if call.resume is None else s.step * 100
        self.attention_after = timedelta(seconds=call.attention_after_s)

    # --- the stage and what operators see ------------------------------------------------

    def move(self, event: Event) -> None:
        stage = next_stage(self.s.stage, event)
        if stage is not self.s.stage:
            self.s.stage = stage
            workflow.upsert_search_attributes([CALL_STAGE.value_set(stage.value)])
        self.details()

    def set_attention(self, value: Attention) -> None:
        if value is Attention.NONE and self.s.records_failed:
            value = Attention.RECORDS_FAILED  # a lost record outlives the trouble that cleared
        if value == self.s.attention:
            return
        previous, self.s.attention = self.s.attention, value
        workflow.upsert_search_attributes([ATTENTION.value_set(value.value)])
        if workflow.patched(OPERATOR_LAYER):
            # The list of calls (and `voiceorder ops list`) shows memos without a worker.
            job = self.s.confirm_job
            workflow.upsert_memo(
                {
                    "attention": value.value,
                    "last_error": (job.last_error if job else "") or self.s.last_error,
                    "since": workflow.now().isoformat(),
                }
            )
        self.audit(
            AuditEvent.ATTENTION_SET if value else AuditEvent.ATTENTION_CLEARED,
            order_number=self.s.order_number
            or (self.s.confirm_job.number if self.s.confirm_job else None),
            details={"attention": value.value, "previous": previous.value},
            actor="system",
        )
        self.details()

    def details(self) -> None:
        """The Web UI's Current Details: the stage, the order, what is wrong, in one glance."""
        job = self.s.confirm_job
        lines = [f"**{self.s.stage.value}**"]
        if job is not None:
            lines[0] += (
                f" order {job.number} — Store API {job.last_error or 'pending'}, round {job.rounds}"
            )
        elif self.s.order_number:
            lines[0] += f" · order {self.s.order_number}"
        phone = self.s.verified_phone
        lines.append(
            f"- caller: {mask_phone(phone) if phone else 'withheld'}, turns: {self.s.turn_no}"
        )
        if self.s.agent_mode is AgentMode.GUIDED:
            switched = self.s.agent_switch_reason
            lines.append(
                f"- agent: guided (switched from the LLM: `{switched}`)"
                if switched
                else "- agent: guided"
            )
        if self.s.attention:
            lines.append(f"- ⚠ attention: `{self.s.attention.value}`")
        if self.s.last_error:
            lines.append(f"- last error: `{self.s.last_error}`")
        if self.s.hung_up:
            lines.append(f"- caller gone ({self.s.hangup_reason}); post-call work")
        # A blank line after the headline makes the UI render the rest as a list.
        headline, *facts = lines
        workflow.set_current_details("\n\n".join([headline, "\n".join(facts)]))

    # --- keys, audit, call log ------------------------------------------------------------

    def key(self, what: str) -> str:
        """Idempotency keys from the workflow id, the run and a per-call step counter (tools.md
        rule 6). The run id keeps a key from ever naming another call's request: a retried
        activity reuses its key, while another run under the same call id (refused since the
        reused-call-id fix, but recorded in old histories) can never replay this run's order."""
        self.s.step += 1
        return f"{self.s.call_id}:{workflow.info().run_id}:{what}:{self.s.step}"

    def audit(
        self,
        event: AuditEvent,
        *,
        order_id: str | None = None,
        order_number: str | None = None,
        details: dict[str, Any] | None = None,
        actor: str = "bot",
    ) -> None:
        self._audit_no += 1
        record = AuditRecord(
            event_key=f"{self.s.call_id}:audit:{workflow.info().run_id}:{self._audit_no}",
            call_id=self.s.call_id,
            workflow_id=workflow.info().workflow_id,
            event=event,
            actor=actor,
            order_id=order_id,
            order_number=order_number,
            phone=self.s.verified_phone,
            details=json.loads(json.dumps(details or {}, default=str)),
            at=workflow.now(),
        )
        self.in_background(AuditActivities.write_audit, record, summary=f"audit {event.value}")

    def log_turn(self, text: str, reply: Reply, log: TurnLog, started: float) -> None:
        record = TurnRecord(
            call_id=self.s.call_id,
            turn_no=self.s.turn_no,
            caller_text=text,
            reply_text=reply.text,
            action=reply.action.value,
            stage=self.s.stage.value,
            tools=log.tools,
            timings=TurnTimings(
                agent_ms=log.agent_ms,
                tools_ms=log.tools_ms,
                total_ms=(workflow.time() - started) * 1000,
            ),
            at=workflow.now(),
        )
        if not workflow.patched(TURN_LOG_BATCHED):
            self.in_background(
                CallLogActivities.record_turn, record, summary=f"call log: turn {record.turn_no}"
            )
            return
        self._turns.append(record)
        if len(self._turns) >= TURNS_PER_WRITE:
            self._write_turns()

    def _write_turns(self) -> None:
        if not self._turns:
            return
        batch, self._turns = TurnBatch(turns=self._turns), []
        first, last = batch.turns[0].turn_no, batch.turns[-1].turn_no
        self.in_background(
            CallLogActivities.record_turns,
            batch,
            summary=f"call log: turn {first}"
            if first == last
            else f"call log: turns {first}-{last}",
        )

    def in_background(
        self, activity: Callable[[Any, A], Awaitable[Any]], arg: A, *, summary: str
    ) -> None:
        """Off the reply path: the update returns while this runs; the run loop waits for it."""
        handle = workflow.start_activity_method(activity, arg, summary=summary, **DURABLE)
        self._background.append(asyncio.create_task(self._settled(handle, summary)))

    async def _settled(self, write: Awaitable[Any], summary: str) -> None:
        """Wait for one background write; one that failed for good is surfaced, not raised.

        Retryable failures (the database away) are retried by Temporal for as long as DURABLE
        allows; what comes back here is a row the database refused (`BotDataRejected`) or
        the retry window running out."""
        try:
            await write
        except ACTIVITY_FAILED as exc:
            if not workflow.patched(RECORDS_NEVER_FAIL):
                raise  # calls recorded before the patch failed here; replay them alike
            self.s.last_error = error_type(exc)
            self.s.records_failed += 1
            workflow.logger.warning(
                "background write failed; the call goes on", extra={"write": summary}
            )
            self.set_attention(Attention.RECORDS_FAILED)

    async def drain(self) -> None:
        """Write what is left and wait for every background write, including those of turns
        answered meanwhile (a turn can arrive while a run hands over)."""
        while True:
            self._write_turns()
            if not self._background:
                return
            pending, self._background = self._background, []
            await asyncio.gather(*pending)

    # --- small facts --------------------------------------------------------------------

    def today(self) -> dt.date:
        return workflow.now().astimezone(STORE_TZ).date()

    def finish(self, outcome: CallOutcome) -> None:
        """The bot ends the call (goodbye, silence); post-call work follows."""
        self.s.ended = True
        self.s.outcome = self.s.outcome or outcome
