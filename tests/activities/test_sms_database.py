"""send_sms with the dev provider: the message is the row; one key, one message."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.sms import (
    DatabaseSmsGateway,
    HttpSmsGateway,
    SmsActivities,
    SmsMessage,
    SmsRequest,
    gateway_from_settings,
)
from core.settings import Settings, SmsProvider

PHONE = "+79161234567"
TEXT = "Заказ 100245 принят: 3 товара, 2599 ₽. Курьер 30.11, ул. Тверская 7. Спасибо!"


def request(key: str, **fields: str) -> SmsRequest:
    return SmsRequest.model_validate(
        {"idempotency_key": key, "phone": PHONE, "text": TEXT, "order_number": "100245"} | fields
    )


@pytest.fixture
def key() -> str:
    return f"call-{uuid.uuid4()}:sms:100245"


async def test_a_second_send_returns_the_first_receipt_and_stores_nothing_new(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, key: str
) -> None:
    sms = SmsActivities(DatabaseSmsGateway(bot_pool))
    first = await activity_env.run(sms.send_sms, request(key))
    again = await activity_env.run(sms.send_sms, request(key))

    assert first.provider is SmsProvider.DATABASE
    assert first.duplicate is False
    assert again.duplicate is True
    assert again.model_dump(exclude={"duplicate"}) == first.model_dump(exclude={"duplicate"})
    rows = await bot_pool.fetch("SELECT * FROM bot.sms_messages WHERE idempotency_key = $1", key)
    assert len(rows) == 1
    row = rows[0]
    assert (row["phone"], row["text"], row["status"], row["provider"], row["attempts"]) == (
        PHONE,
        TEXT,
        "sent",
        "database",
        1,
    )
    assert row["provider_message_id"] == first.provider_message_id
    assert row["sent_at"] == first.sent_at


async def test_concurrent_sends_with_one_key_send_once(bot_pool: asyncpg.Pool, key: str) -> None:
    gateway = DatabaseSmsGateway(bot_pool)
    message = SmsMessage(idempotency_key=key, phone=PHONE, text=TEXT)
    receipts = await asyncio.gather(*(gateway.send(message) for _ in range(6)))

    assert sum(not receipt.duplicate for receipt in receipts) == 1
    assert len({receipt.provider_message_id for receipt in receipts}) == 1
    count = await bot_pool.fetchval(
        "SELECT count(*) FROM bot.sms_messages WHERE idempotency_key = $1", key
    )
    assert count == 1


async def test_an_invalid_message_is_rejected_for_good_and_not_stored(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, key: str
) -> None:
    sms = SmsActivities(DatabaseSmsGateway(bot_pool))
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(sms.send_sms, request(key, phone="89161234567"))

    assert caught.value.type == "SmsRejected"
    assert caught.value.non_retryable is True
    assert "E.164" in caught.value.message
    assert "89161234567" not in caught.value.message
    stored = await bot_pool.fetchval(
        "SELECT count(*) FROM bot.sms_messages WHERE idempotency_key = $1", key
    )
    assert stored == 0


def test_the_provider_follows_the_settings(bot_pool: asyncpg.Pool) -> None:
    dev = Settings(_env_file=None)
    http = Settings(
        _env_file=None,
        sms_provider=SmsProvider.HTTP,
        sms_gateway_url="http://127.0.0.1:9/v1/messages",
        sms_gateway_token="t",
    )
    assert isinstance(gateway_from_settings(dev, bot_pool), DatabaseSmsGateway)
    assert isinstance(gateway_from_settings(http, bot_pool), HttpSmsGateway)
