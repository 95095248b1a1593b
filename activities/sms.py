"""The confirmation SMS: one activity in front of a small gateway interface.

Providers: `DatabaseSmsGateway` (dev: "sending" is storing the message in bot.sms_messages)
and `HttpSmsGateway` (a real gateway over HTTP; it records messages in the same table so
operators see what was sent and what is still waiting). Both are idempotent per key — the
key comes from the workflow ("<workflow id>:sms:<order number>"), so a retried activity or
a restarted worker never texts a customer twice.

Failures reach Temporal typed: `SmsGatewayDown` is retried (the gateway or our database is
away; a confirmed order's SMS is retried for hours), `SmsRejected` is not (a bad number, a
text too long, a gateway that refuses this message).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import bare, is_unavailable
from core.phones import mask_phone, mask_phones_in
from core.settings import Settings, SmsProvider

log = structlog.get_logger(__name__)

GATEWAY_DOWN = "SmsGatewayDown"
REJECTED = "SmsRejected"

# Cyrillic text goes out as UCS-2: 67 characters per segment of a split message. Two
# segments keep the cost and the delivery predictable (dialog.md).
MAX_SMS_UNITS = 134
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Sent as an HTTP header too, so printable ASCII without spaces.
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

HTTP_TIMEOUT_S = 10.0


# --- models at the activity boundary ----------------------------------------------------


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


class SmsMessage(BaseModel):
    """A message a gateway may send: E.164 number, at most two UCS-2 segments."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    phone: str = Field(repr=False)
    text: str

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("idempotency key must be 1..200 printable ASCII characters")
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        if not _E164.match(value):
            raise ValueError(f"phone {mask_phone(value)!r} is not in E.164 form (+79161234567)")
        return value

    @field_validator("text")
    @classmethod
    def _fits(cls, value: str) -> str:
        units = ucs2_units(value)
        if not value.strip():
            raise ValueError("text is empty")
        if units > MAX_SMS_UNITS:
            raise ValueError(
                f"text is {units} UCS-2 characters; at most {MAX_SMS_UNITS} (two segments)"
            )
        return value

    @classmethod
    def from_request(cls, request: SmsRequest) -> SmsMessage:
        try:
            return cls(
                idempotency_key=request.idempotency_key, phone=request.phone, text=request.text
            )
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {_reason(e['msg'])}" for e in exc.errors())
            raise SmsRejected(f"SMS not sent: {problems}") from None


class SmsReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    provider: SmsProvider
    provider_message_id: str | None
    sent_at: datetime
    duplicate: bool = Field(
        default=False, description="True: this key had been sent before; nothing new went out."
    )


def ucs2_units(text: str) -> int:
    """Length as a UCS-2/UTF-16 SMS counts it: characters outside the BMP take two."""
    return len(text.encode("utf-16-le")) // 2


def _reason(msg: str) -> str:
    return msg.removeprefix("Value error, ")


# --- the gateway interface and its errors -------------------------------------------------


class SmsError(Exception):
    """Base of the gateway errors; the message is safe to show (phones masked)."""


class SmsGatewayUnavailable(SmsError):
    """Try again later: the gateway is down, slow, overloaded or refuses our credentials."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SmsRejected(SmsError):
    """This message will never go out as it is."""


class SmsGateway(Protocol):
    async def send(self, message: SmsMessage) -> SmsReceipt: ...


# --- bot.sms_messages -----------------------------------------------------------------------

_DB_SEND = """
INSERT INTO bot.sms_messages AS m
    (idempotency_key, phone, text, status, provider, provider_message_id, attempts, sent_at)
VALUES ($1, $2, $3, 'sent', 'database', $4, 1, now())
ON CONFLICT (idempotency_key) DO UPDATE SET
    status = 'sent', provider = 'database', provider_message_id = EXCLUDED.provider_message_id,
    attempts = m.attempts + 1, last_error = NULL, sent_at = now()
    WHERE m.status <> 'sent'
RETURNING provider_message_id, sent_at
"""

# Register the message (or find it) and count this attempt, unless it already went out.
_HTTP_BEGIN = """
INSERT INTO bot.sms_messages AS m (idempotency_key, phone, text, status, provider, attempts)
VALUES ($1, $2, $3, 'queued', 'http', 1)
ON CONFLICT (idempotency_key) DO UPDATE SET attempts = m.attempts + 1, provider = 'http'
    WHERE m.status <> 'sent'
RETURNING attempts
"""

_SENT = """
SELECT provider, provider_message_id, sent_at FROM bot.sms_messages
WHERE idempotency_key = $1 AND status = 'sent'
"""

_HTTP_SENT = """
UPDATE bot.sms_messages
SET status = 'sent', provider_message_id = $2, sent_at = now(), last_error = NULL
WHERE idempotency_key = $1 AND status <> 'sent'
RETURNING sent_at
"""

# A transient failure leaves the message queued (it will be retried); a rejection fails it.
_HTTP_FAILED = """
UPDATE bot.sms_messages
SET status = CASE WHEN $3 THEN 'failed' ELSE 'queued' END, last_error = $2
WHERE idempotency_key = $1 AND status <> 'sent'
"""


async def _already_sent(pool: asyncpg.Pool, key: str) -> SmsReceipt | None:
    row = await pool.fetchrow(_SENT, key)
    if row is None:
        return None
    return SmsReceipt(
        idempotency_key=key,
        provider=SmsProvider(row["provider"]),
        provider_message_id=row["provider_message_id"],
        sent_at=row["sent_at"],
        duplicate=True,
    )


# --- providers ------------------------------------------------------------------------------


class DatabaseSmsGateway:
    """Dev provider: a message counts as sent once it is stored with status `sent`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def send(self, message: SmsMessage) -> SmsReceipt:
        row = await self._pool.fetchrow(
            _DB_SEND,
            message.idempotency_key,
            message.phone,
            message.text,
            f"db-{uuid.uuid4().hex}",
        )
        if row is None:  # sent before: hand back that receipt, store nothing new
            receipt = await _already_sent(self._pool, message.idempotency_key)
            if receipt is None:  # pragma: no cover - a sent row never changes back
                raise SmsGatewayUnavailable("SMS row vanished between insert and read")
            return receipt
        return SmsReceipt(
            idempotency_key=message.idempotency_key,
            provider=SmsProvider.DATABASE,
            provider_message_id=row["provider_message_id"],
            sent_at=row["sent_at"],
        )


# Statuses that say "not now" rather than "not this message".
_RETRY_STATUSES = {401, 403, 408, 429}


class HttpSmsGateway:
    """A real gateway: `POST url` with JSON {"to", "text", "idempotency_key"}, Bearer token
    and an `Idempotency-Key` header; 2xx answers `{"id": ...}`.

    The gateway is expected to deduplicate by key; we also skip the POST when our own table
    already says the key was sent.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        pool: asyncpg.Pool,
        timeout: float = HTTP_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._token = token
        self._pool = pool
        self._timeout = timeout

    async def send(self, message: SmsMessage) -> SmsReceipt:
        key = message.idempotency_key
        attempts = await self._pool.fetchval(_HTTP_BEGIN, key, message.phone, message.text)
        if attempts is None:
            receipt = await _already_sent(self._pool, key)
            if receipt is not None:
                return receipt
        try:
            message_id = await self._post(message)
        except SmsGatewayUnavailable as exc:
            await self._note_failure(key, str(exc), permanent=False)
            raise
        except SmsRejected as exc:
            await self._note_failure(key, str(exc), permanent=True)
            raise
        sent_at = await self._pool.fetchval(_HTTP_SENT, key, message_id)
        if sent_at is None:  # a concurrent attempt recorded it first
            receipt = await _already_sent(self._pool, key)
            if receipt is not None:
                return receipt
            raise SmsGatewayUnavailable("SMS sent but its row is missing; retrying records it")
        return SmsReceipt(
            idempotency_key=key,
            provider=SmsProvider.HTTP,
            provider_message_id=message_id,
            sent_at=sent_at,
        )

    async def _post(self, message: SmsMessage) -> str | None:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = {
            "to": message.phone,
            "text": message.text,
            "idempotency_key": message.idempotency_key,
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise SmsGatewayUnavailable(
                f"SMS gateway did not answer within {self._timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise SmsGatewayUnavailable(
                f"SMS gateway unreachable ({type(exc).__name__}: {mask_phones_in(str(exc))})"
            ) from exc
        return _message_id(response)

    async def _note_failure(self, key: str, error: str, *, permanent: bool) -> None:
        # Best effort: the gateway's failure is the one to report, even if the database is
        # down too.
        try:
            await self._pool.execute(_HTTP_FAILED, key, error, permanent)
        except Exception as exc:  # any database trouble: see above
            log.warning("sms failure not recorded", idempotency_key=key, error=type(exc).__name__)


def _message_id(response: httpx.Response) -> str | None:
    status = response.status_code
    if 200 <= status < 300:
        found = _json(response).get("id")
        if found is None:
            log.warning("sms gateway accepted a message without an id", status=status)
            return None
        return str(found)
    said = _gateway_message(response)
    if status >= 500 or status in _RETRY_STATUSES:
        raise SmsGatewayUnavailable(
            f"SMS gateway answered {status}: {said}", retry_after_s=_retry_after(response)
        )
    raise SmsRejected(f"SMS gateway rejected the message ({status}): {said}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _gateway_message(response: httpx.Response) -> str:
    """The gateway's own words, phones masked (gateways like to echo the number back)."""
    body = _json(response)
    said: Any = body.get("message") or body.get("error") or body.get("detail")
    if isinstance(said, dict):
        said = said.get("message") or said.get("code")
    text = str(said) if said else (response.text.strip() or response.reason_phrase)
    return mask_phones_in(text)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


def gateway_from_settings(settings: Settings, pool: asyncpg.Pool) -> SmsGateway:
    if settings.sms_provider is SmsProvider.HTTP:
        if not settings.sms_gateway_url:  # Settings refuses this too; keep mypy and us sure
            raise ValueError("SMS_PROVIDER=http needs SMS_GATEWAY_URL")
        return HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_token, pool=pool)
    return DatabaseSmsGateway(pool)


# --- the activity ------------------------------------------------------------------------------


class SmsActivities:
    def __init__(self, gateway: SmsGateway) -> None:
        self._gateway = gateway

    @activity.defn(name="send_sms")
    async def send_sms(self, request: SmsRequest) -> SmsReceipt:
        context = {
            "idempotency_key": request.idempotency_key,
            "call_id": request.call_id,
            "order_number": request.order_number,
            "phone": mask_phone(request.phone),
            "attempt": activity.info().attempt,
        }
        try:
            message = SmsMessage.from_request(request)
            receipt = await self._gateway.send(message)
        except SmsRejected as exc:
            log.warning("sms rejected", error=str(exc), **context)
            raise ApplicationError(str(exc), type=REJECTED, non_retryable=True) from None
        except SmsGatewayUnavailable as exc:
            log.warning("sms gateway down", error=str(exc), **context)
            delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
            raise ApplicationError(
                str(exc), type=GATEWAY_DOWN, non_retryable=False, next_retry_delay=delay
            ) from None
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # bot.sms_messages is part of sending (the dev provider *is* the table), so to the
            # workflow this is the same "not now" as a gateway outage.
            log.warning("sms database down", error=type(exc).__name__, **context)
            raise ApplicationError(
                f"SMS not sent: bot database unavailable ({type(exc).__name__})",
                type=GATEWAY_DOWN,
                non_retryable=False,
            ) from bare(exc)
        log.info(
            "sms already sent" if receipt.duplicate else "sms sent",
            provider=receipt.provider.value,
            provider_message_id=receipt.provider_message_id,
            **context,
        )
        return receipt
