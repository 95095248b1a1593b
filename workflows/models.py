"""What goes in and out of CallWorkflow, as its callers see it: its name, updates, signals and
search attributes, how a call starts, the turns and the replies.

Callers (the edge, the CLI) import this module and `workflows.client` only — never the
workflow's implementation, its state or anything it runs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import SearchAttributeKey

from core.reply_stream import StreamTarget
from core.vocabulary import Action, AgentMode, Expectation, Stage

MAX_UTTERANCE_CHARS = 1000  # SEC6: a caller turn longer than this is refused
WORKFLOW_NAME = "CallWorkflow"


class CallUpdate(StrEnum):
    """The workflow's updates: a caller's turn gets its reply in the same round trip."""

    GREET = "greet"
    CALLER_SAID = "caller_said"
    CALLER_PRESSED = "caller_pressed"
    CALLER_SILENT = "caller_silent"
    OPERATOR_RETRY_NOW = "operator_retry_now"
    OPERATOR_CANCEL_ORDER = "operator_cancel_order"
    OPERATOR_RESEND_SMS = "operator_resend_sms"


class CallSignal(StrEnum):
    PLAYBACK = "playback"
    HANG_UP = "hang_up"


STATE_QUERY = "state"

# Search attributes the workflow keeps current (operators find and filter calls by them).
CALL_STAGE = SearchAttributeKey.for_keyword("CallStage")
CALLER_PHONE = SearchAttributeKey.for_keyword("CallerPhone")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
CALL_OUTCOME = SearchAttributeKey.for_keyword("CallOutcome")
ATTENTION = SearchAttributeKey.for_keyword("Attention")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LookupLimits(Model):
    """Caps on guessing order numbers (settings ORDER_LOOKUP_*): order look-ups by number
    that matched none of the phone's orders, per call and per phone across calls within a
    window. Once a cap is reached no look-up by number is made; the caller is offered an
    operator instead."""

    per_call: Annotated[int, Field(ge=1, le=1000)] = 5
    per_phone: Annotated[int, Field(ge=1, le=10_000)] = 10
    window_h: Annotated[int, Field(ge=1, le=24 * 90)] = 24


class CallStart(Model):
    """How the edge (or the text softphone) starts a call."""

    caller_number: str | None = Field(
        default=None, description="CallerID as Asterisk gave it; None when withheld"
    )
    channel_id: str | None = None
    audiosocket_id: str | None = None
    source: Literal["edge", "chat", "test"] = "edge"
    # Post-call work failing for this long sets the Attention search attribute.
    attention_after_s: Annotated[int, Field(ge=0, le=86_400)] = 120
    # A run hands over to a fresh one (continue-as-new) after this many turns, or earlier
    # when Temporal suggests it: long calls keep a short history.
    turns_per_run: Annotated[int, Field(ge=1, le=10_000)] = 400
    # Who leads the dialog (Settings.agent as the starter resolved it): "llm", "guided", or
    # "auto" (the LLM, and guided when it fails). None: calls started before the guided
    # agent existed, which behave as "llm".
    agent: AgentMode | None = None
    # Workflow code cannot read settings: the starter carries the caps in.
    lookup_limits: LookupLimits = Field(default_factory=LookupLimits)


class PlaybackReport(Model):
    """How much of a reply the caller actually heard."""

    reply_id: int
    played_to_end: bool
    played_ms: Annotated[int, Field(ge=0)] | None = None


class CallerTurn(Model):
    # Length is checked by the update's validator, so a long turn is refused, not failed.
    text: str
    # How the previous reply played; carried with the turn so it can never arrive late.
    previous_playback: PlaybackReport | None = None
    # Where the agent may stream the reply's sentences while it is still written (the
    # edge's reply-stream endpoint, docs/streaming.md); None: the reply comes whole, as
    # before (turns recorded before streamed replies existed have none).
    stream: StreamTarget | None = None


class DtmfTurn(Model):
    digits: Annotated[str, Field(pattern=r"^[0-9*#]{1,20}$")]
    previous_playback: PlaybackReport | None = None
    stream: StreamTarget | None = None


class HangUp(Model):
    reason: str = "caller"


class Reply(BaseModel):
    # Unknown fields are ignored, not refused: an edge still running the previous release
    # keeps reading the replies of a newer worker during a rolling upgrade.
    model_config = ConfigDict(extra="ignore")

    reply_id: int
    sentences: list[str]
    action: Action = Action.CONTINUE
    stage: Stage
    # What the bot now waits for; the edge picks the end-of-turn pause from it.
    expects: Expectation = Expectation.FREE

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


# Operator actions (operators.md): tiny inputs; the update validators say when one does not
# apply. Lengths are checked there too, so a bad input is refused instead of failing.


class OperatorRetry(Model):
    operator: str = "unknown"


class OperatorCancel(Model):
    reason: str
    operator: str = "unknown"


class OperatorResend(Model):
    operator: str = "unknown"
