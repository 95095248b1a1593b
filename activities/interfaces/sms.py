"""The confirmation SMS as the workflow sees it: a text for a phone under an idempotency key.

Failures are typed (`core.vocabulary.ErrorType`): `SmsGatewayDown` is retried (the gateway or
the bot's database is away), `SmsRejected` is not (a bad number, a text too long, a gateway
that refuses this message).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from core.vocabulary import SmsProvider


class SmsRequest(BaseModel):
    """What the workflow asks for. Deliberately unvalidated beyond types: a bad number or a
    long text must come back as a non-retryable `SmsRejected`, not as a payload that fails
    to decode (which Temporal would retry forever)."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(description="e.g. '<workflow id>:sms:<order number>'.")
    phone: str = Field(repr=False)
    text: str
    call_id: str | None = None
    order_number: str | None = None


class SmsReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    provider: SmsProvider
    provider_message_id: str | None
    sent_at: datetime
    duplicate: bool = Field(
        default=False, description="True: this key had been sent before; nothing new went out."
    )


class SmsActivities(ABC):
    """Implemented by `activities.sms.GatewaySmsActivities` (the configured provider)."""

    @activity.defn(name="send_sms")
    @abstractmethod
    async def send_sms(self, request: SmsRequest) -> SmsReceipt: ...
