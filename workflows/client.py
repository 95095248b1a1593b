"""A call from the caller's side, over the Temporal client: what the edge and `chat` use.

The first round trip is update-with-start (start the workflow and get the greeting in one
go); every turn after it is one `caller_said` update that returns the reply.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Literal

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.phones import InvalidPhone, mask_phone, normalise_phone
from core.settings import AgentMode, Settings
from workflows.call import CALL_STAGE, CALLER_PHONE, CallWorkflow
from workflows.models import (
    CallerTurn,
    CallInput,
    DtmfTurn,
    HangUp,
    PlaybackReport,
    Reply,
)
from workflows.stages import Stage

AgentChoice = Literal["llm", "guided", "auto"]


def agent_for(settings: Settings) -> AgentChoice:
    """Who leads a new call (`CallInput.agent`): AGENT=guided, or AGENT=auto with no LLM
    configured, is a guided call from the first word; AGENT=auto with an LLM starts with the
    LLM and goes guided when it fails; AGENT=llm never switches."""
    if settings.agent is AgentMode.GUIDED:
        return "guided"
    if settings.agent is AgentMode.AUTO:
        return "auto" if settings.llm_configured else "guided"
    return "llm"


class CallIdInUse(RuntimeError):
    """The call id names a call that exists or existed: ids are never reused, because a second
    call under the same id could touch the first one's order."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call id {call_id!r} was already used; every call needs a new id")
        self.call_id = call_id


def new_call_id() -> str:
    return f"call-{uuid.uuid4()}"


def _masked(number: str | None) -> str:
    if not number:
        return "withheld"
    try:
        return mask_phone(normalise_phone(number))
    except InvalidPhone:
        return "invalid"


@dataclass
class CallSession:
    handle: WorkflowHandle[CallWorkflow, str]
    last_reply: Reply | None = None
    # Text mode has no audio: a reply counts as heard in full unless the caller says otherwise.
    auto_played: bool = True
    _playback: PlaybackReport | None = field(default=None, repr=False)

    @property
    def call_id(self) -> str:
        return self.handle.id

    @classmethod
    async def start(
        cls,
        client: Client,
        task_queue: str,
        call: CallInput,
        *,
        call_id: str | None = None,
        auto_played: bool = True,
    ) -> CallSession:
        workflow_id = call_id or new_call_id()
        started = WithStartWorkflowOperation(
            CallWorkflow.run,
            call,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Call from {_masked(call.caller_number)} ({call.source})",
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(CALL_STAGE, Stage.IDENTIFYING.value),
                    SearchAttributePair(CALLER_PHONE, _masked(call.caller_number)),
                ]
            ),
        )
        try:
            greeting = await client.execute_update_with_start_workflow(
                "greet", start_workflow_operation=started, result_type=Reply
            )
        except WorkflowAlreadyStartedError:
            # The start operation keeps the same error; taken here so it is not reported as
            # "never retrieved" when the process exits.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await started.workflow_handle()
            raise CallIdInUse(workflow_id) from None
        await started.workflow_handle()
        # Address the call by id only, not by run: after continue-as-new, turns go to the
        # current run.
        handle: WorkflowHandle[CallWorkflow, str] = client.get_workflow_handle(
            workflow_id, result_type=str
        )
        session = cls(handle=handle, auto_played=auto_played)
        session._heard(greeting)
        return session

    def _heard(self, reply: Reply) -> Reply:
        self.last_reply = reply
        self._playback = (
            PlaybackReport(reply_id=reply.reply_id, played_to_end=True)
            if self.auto_played
            else None
        )
        return reply

    def report_playback(self, played_to_end: bool, played_ms: int | None = None) -> None:
        """How the last reply actually played (the edge knows; text mode assumes in full)."""
        if self.last_reply is not None:
            self._playback = PlaybackReport(
                reply_id=self.last_reply.reply_id, played_to_end=played_to_end, played_ms=played_ms
            )

    async def say(self, text: str) -> Reply:
        reply = await self.handle.execute_update(
            "caller_said",
            CallerTurn(text=text, previous_playback=self._playback),
            result_type=Reply,
        )
        return self._heard(reply)

    async def press(self, digits: str) -> Reply:
        reply = await self.handle.execute_update(
            "caller_pressed",
            DtmfTurn(digits=digits, previous_playback=self._playback),
            result_type=Reply,
        )
        return self._heard(reply)

    async def silence(self) -> Reply:
        reply = await self.handle.execute_update("caller_silent", self._playback, result_type=Reply)
        return self._heard(reply)

    async def hang_up(self, reason: str = "caller") -> None:
        await self.handle.signal(CallWorkflow.hang_up, HangUp(reason=reason))

    async def result(self) -> str:
        return await self.handle.result()
