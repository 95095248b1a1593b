"""A call from the caller's side, over the Temporal client: what the edge and `chat` use.

The first round trip is update-with-start (start the workflow and get the greeting in one
go); every turn after it is one `caller_said` update that returns the reply.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

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

from core.caller_text import utf8_safe
from core.phones import InvalidPhone, mask_phone, normalise_phone
from core.reply_stream import StreamTarget
from core.settings import Settings
from core.vocabulary import AgentMode, HangupReason, Stage
from workflows.models import (
    CALL_STAGE,
    CALLER_PHONE,
    WORKFLOW_NAME,
    CallerTurn,
    CallSignal,
    CallStart,
    CallUpdate,
    DtmfTurn,
    HangUp,
    LookupLimits,
    PlaybackReport,
    Reply,
)

# How long a workflow task may go without word from its worker. A turn's agent step and Store
# API calls are local activities run inside the task, so when a worker dies mid-turn (a
# reply half streamed to the caller) the turn is run again by another worker only after
# this: 5 s instead of Temporal's 10. A longer turn keeps its task alive by heartbeating it
# (the SDK does, every 4 s), so this bounds no turn's length.
CALL_TASK_TIMEOUT = timedelta(seconds=5)


def agent_for(settings: Settings) -> AgentMode:
    """Who leads a new call (`CallStart.agent`): AGENT=guided, or AGENT=auto with no LLM
    configured, is a guided call from the first word; AGENT=auto with an LLM starts with the
    LLM and goes guided when it fails; AGENT=llm never switches."""
    if settings.agent is AgentMode.AUTO and not settings.llm_configured:
        return AgentMode.GUIDED
    return settings.agent


def lookup_limits_for(settings: Settings) -> LookupLimits:
    """The guessing caps of a new call (`CallStart.lookup_limits`) from the settings."""
    return LookupLimits(
        per_call=settings.order_lookup_max_failures_per_call,
        per_phone=settings.order_lookup_max_failures_per_phone,
        window_h=settings.order_lookup_window_h,
    )


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
    # Addressed by name: the edge and the CLI never load the workflow's implementation.
    handle: WorkflowHandle[object, str]
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
        call: CallStart,
        *,
        call_id: str | None = None,
        auto_played: bool = True,
    ) -> CallSession:
        workflow_id = call_id or new_call_id()
        started: WithStartWorkflowOperation[object, str] = WithStartWorkflowOperation(
            WORKFLOW_NAME,
            call,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=CALL_TASK_TIMEOUT,
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
                CallUpdate.GREET, start_workflow_operation=started, result_type=Reply
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
        handle: WorkflowHandle[object, str] = client.get_workflow_handle(
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

    async def say(self, text: str, *, stream: StreamTarget | None = None) -> Reply:
        """One caller turn; with `stream` the agent may send the reply's sentences there while
        it still writes (the result is still the whole reply)."""
        reply = await self.handle.execute_update(
            CallUpdate.CALLER_SAID,
            # A lone surrogate (a broken escape in an STT service's JSON) cannot travel at all.
            CallerTurn(text=utf8_safe(text), previous_playback=self._playback, stream=stream),
            result_type=Reply,
        )
        return self._heard(reply)

    async def press(self, digits: str, *, stream: StreamTarget | None = None) -> Reply:
        reply = await self.handle.execute_update(
            CallUpdate.CALLER_PRESSED,
            DtmfTurn(digits=digits, previous_playback=self._playback, stream=stream),
            result_type=Reply,
        )
        return self._heard(reply)

    async def silence(self) -> Reply:
        reply = await self.handle.execute_update(
            CallUpdate.CALLER_SILENT, self._playback, result_type=Reply
        )
        return self._heard(reply)

    async def hang_up(self, reason: str = HangupReason.CALLER) -> None:
        await self.handle.signal(CallSignal.HANG_UP, HangUp(reason=reason))

    async def result(self) -> str:
        return await self.handle.result()
