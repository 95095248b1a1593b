"""Everything a call remembers. Serialisable, so a query shows it and continue-as-new carries it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.vocabulary import AgentMode, Attention, CallOutcome, Stage
from guided.memory import GuidedMemory
from store_api.contract import CourierDeliveryIn, Order, OrderSummary, PickupDeliveryIn
from workflows.models import CallStart


class StateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadbackState(StateModel):
    """What the caller heard: the reply that carried it and the order's state at that time."""

    reply_id: int
    order_id: str
    fingerprint: str  # changes whenever items, delivery or total change
    total: int
    played_to_end: bool | None = None  # None: the edge has not reported the playback yet


class DraftState(StateModel):
    order_id: str
    number: str
    total: int
    fingerprint: str
    delivery: CourierDeliveryIn | PickupDeliveryIn | None = None
    has_delivery: bool = False


class ConfirmJob(StateModel):
    """A confirmation that could not finish during the call; retried until the API answers."""

    order_id: str
    number: str
    expected_total: int
    idempotency_key: str
    rounds: int = 0
    last_error: str = ""


class ConfirmedOrder(StateModel):
    order_id: str
    number: str
    total: int
    sms_text: str
    sms_key: str
    sms_sent: bool = False
    sms_rounds: int = 0
    sms_last_error: str = ""
    resends: int = 0
    cancelled: bool = False  # by an operator: no SMS any more


class CallState(StateModel):
    call_id: str
    caller_phone: str | None = None  # E.164, verified by CallerID; None when withheld
    withheld: bool = True
    contact_phone: str | None = None  # withheld caller: confirmed by read-back
    pending_contact_phone: str | None = None
    customer_name: str | None = None
    known_customer: bool = False
    active_orders: list[OrderSummary] = Field(default_factory=list)

    agent_mode: AgentMode = AgentMode.LLM  # LLM or GUIDED (never AUTO)
    agent_switch_reason: str = ""  # why an "auto" call left the LLM
    guided: GuidedMemory = Field(default_factory=GuidedMemory)

    stage: Stage = Stage.IDENTIFYING
    identified: bool = False
    messages: list[dict[str, Any]] = Field(default_factory=list)
    step: int = 0  # per-call counter behind every idempotency key
    reply_id: int = 0
    turn_no: int = 0
    silences: int = 0

    draft: DraftState | None = None
    readback: ReadbackState | None = None
    confirm_job: ConfirmJob | None = None
    confirmed: list[ConfirmedOrder] = Field(default_factory=list)
    last_order: Order | None = None

    hung_up: bool = False
    hangup_reason: str = ""
    ended: bool = False  # the bot ended the call (goodbye or transfer)
    outcome: CallOutcome = CallOutcome.UNKNOWN
    attention: Attention = Attention.NONE
    last_error: str = ""
    operator_cancelled: bool = False
    records_failed: int = 0  # audit or call-log writes Temporal gave up on (Attention says so)
    # Order look-ups by number that matched none of the phone's orders (the guessing cap).
    failed_lookups: int = 0

    @property
    def verified_phone(self) -> str | None:
        """The number whose orders this caller may hear about and order for."""
        return self.caller_phone or self.contact_phone

    @property
    def order_number(self) -> str:
        if self.draft is not None:
            return self.draft.number
        if self.confirmed:
            return self.confirmed[-1].number
        return ""


class CallInput(CallStart):
    """The workflow's input: how the call started, plus — set only by continue-as-new — the
    state of the call so far (the same JSON as a start without it)."""

    resume: CallState | None = None
