"""The call's bookkeeping: stage moves, Attention, current details, audit and call log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditEvent, AuditRecord
    from activities.call_log import ToolCallLog, TurnRecord, TurnTimings
    from core.phones import mask_phone
    from store_api.contract import (
        STORE_TZ,
    )
    from workflows.models import (
        CallInput,
        Reply,
    )
    from workflows.stages import (
        Event,
        next_stage,
    )
    from workflows.state import (
        CallState,
    )

from workflows.activity_options import DURABLE

# Patch id of the operator layer (memo with the last error, agent Attention, operator
# updates): calls recorded before it replay without these commands.
OPERATOR_LAYER = "operator-layer-1"
# Patch id of the guided agent (its activity, the switch from the LLM, the agent memo).
GUIDED_AGENT = "guided-agent-1"

CALL_STAGE = SearchAttributeKey.for_keyword("CallStage")
CALLER_PHONE = SearchAttributeKey.for_keyword("CallerPhone")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
CALL_OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
ATTENTION = SearchAttributeKey.for_keyword("Attention")


@dataclass
class TurnLog:
    tools: list[ToolCallLog] = field(default_factory=list)
    agent_ms: float = 0.0
    tools_ms: float = 0.0


class CallRecords:
    """State, stage moves and everything the call writes down: search attributes, current
    details, audit records, the call log, and the background activities that carry them."""

    call: CallInput
    s: CallState
    _background: list[asyncio.Task[Any]]
    _audit_no: int
    _caller_text: str
    _dtmf: str
    _attention_after: timedelta
    _last_input: dt.datetime
    _first_turn_of_run: int
    _wake: bool  # an operator asked to retry now

    def _move(self, event: Event) -> None:
        stage = next_stage(self.s.stage, event)
        if stage is not self.s.stage:
            self.s.stage = stage
            workflow.upsert_search_attributes([CALL_STAGE.value_set(stage.value)])
        self._details()

    def _set_attention(self, value: str) -> None:
        if value == self.s.attention:
            return
        previous, self.s.attention = self.s.attention, value
        workflow.upsert_search_attributes([ATTENTION.value_set(value)])
        if workflow.patched(OPERATOR_LAYER):
            # The list of calls (and `voiceorder ops list`) shows memos without a worker.
            job = self.s.confirm_job
            workflow.upsert_memo(
                {
                    "attention": value,
                    "last_error": (job.last_error if job else "") or self.s.last_error,
                    "since": workflow.now().isoformat(),
                }
            )
        self._audit(
            AuditEvent.ATTENTION_SET if value else AuditEvent.ATTENTION_CLEARED,
            order_number=self.s.order_number
            or (self.s.confirm_job.number if self.s.confirm_job else None),
            details={"attention": value, "previous": previous},
            actor="system",
        )
        self._details()

    def _details(self) -> None:
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
        if self.s.agent_mode == "guided":
            switched = self.s.agent_switch_reason
            lines.append(
                f"- agent: guided (switched from the LLM: `{switched}`)"
                if switched
                else "- agent: guided"
            )
        if self.s.attention:
            lines.append(f"- ⚠ attention: `{self.s.attention}`")
        if self.s.last_error:
            lines.append(f"- last error: `{self.s.last_error}`")
        if self.s.hung_up:
            lines.append(f"- caller gone ({self.s.hangup_reason}); post-call work")
        # A blank line after the headline makes the UI render the rest as a list.
        headline, *facts = lines
        workflow.set_current_details("\n\n".join([headline, "\n".join(facts)]))

    def _key(self, what: str) -> str:
        """Idempotency keys from the workflow id, the run and a per-call step counter (tools.md
        rule 6). The run id keeps a key from ever naming another call's request: a retried
        activity reuses its key, while a second run of the same call id (refused since the
        reused-call-id fix, but recorded in old histories) can never replay the first's order."""
        self.s.step += 1
        return f"{self.s.call_id}:{workflow.info().run_id}:{what}:{self.s.step}"

    def _audit(
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
        self._start_background("write_audit", record, summary=f"audit {event.value}")

    def _log_turn(self, text: str, reply: Reply, log: TurnLog, started: float) -> None:
        self._start_background(
            "record_turn",
            TurnRecord(
                call_id=self.s.call_id,
                turn_no=self.s.turn_no,
                caller_text=text,
                reply_text=reply.text,
                action=reply.action,
                stage=self.s.stage.value,
                tools=log.tools,
                timings=TurnTimings(
                    agent_ms=log.agent_ms,
                    tools_ms=log.tools_ms,
                    total_ms=(workflow.time() - started) * 1000,
                ),
                at=workflow.now(),
            ),
            summary=f"call log: turn {self.s.turn_no}",
        )

    def _start_background(self, activity: str, arg: Any, *, summary: str) -> None:
        """Off the reply path: the update returns while this runs; the run loop waits for it."""
        handle = workflow.start_activity(activity, arg, summary=summary, **DURABLE)
        self._background.append(handle)

    async def _drain_background(self) -> None:
        while self._background:
            pending, self._background = self._background, []
            await asyncio.gather(*pending)

    def _today(self) -> dt.date:
        return workflow.now().astimezone(STORE_TZ).date()

    def _finish(self, outcome: str) -> None:
        self.s.ended = True
        self.s.outcome = self.s.outcome or outcome
