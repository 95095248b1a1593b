"""What goes in and out of CallWorkflow: its input, turns, replies, and the state query."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.state import CallState

MAX_UTTERANCE_CHARS = 1000  # SEC6: a caller turn longer than this is refused

Action = Literal["continue", "transfer", "hangup"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallInput(Model):
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
    agent: Literal["llm", "guided", "auto"] | None = None
    # Set only by continue-as-new: the state of the call so far.
    resume: CallState | None = None


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


class DtmfTurn(Model):
    digits: Annotated[str, Field(pattern=r"^[0-9*#]{1,20}$")]
    previous_playback: PlaybackReport | None = None


class HangUp(Model):
    reason: str = "caller"


class Reply(Model):
    reply_id: int
    sentences: list[str]
    action: Action = "continue"
    stage: str

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
