"""send_sms through HttpSmsGateway against a fake gateway over real HTTP."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import structlog
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.interfaces.sms import SmsRequest
from activities.sms import GatewaySmsActivities, HttpSmsGateway
from core.vocabulary import SmsProvider
from tests.activities.fake_sms_gateway import FakeSmsGateway, fake_sms_gateway
from tests.support.servers import free_port

PHONE = "+79161234567"
TEXT = "Заказ 100245 принят: 3 товара, 2599 ₽. Самовывоз 30.11, ПВЗ Тверская 7. Спасибо!"
TOKEN = "sms-test-token"


@pytest.fixture
async def gateway() -> AsyncIterator[FakeSmsGateway]:
    async with fake_sms_gateway(TOKEN) as fake:
        yield fake


@pytest.fixture
def key() -> str:
    return f"call-{uuid.uuid4()}:sms:100245"


def activities(
    pool: asyncpg.Pool, url: str, *, token: str = TOKEN, timeout: float = 5.0
) -> GatewaySmsActivities:
    return GatewaySmsActivities(HttpSmsGateway(url, token, pool=pool, timeout=timeout))


def request(key: str, text: str = TEXT) -> SmsRequest:
    return SmsRequest(idempotency_key=key, phone=PHONE, text=text, order_number="100245")


async def stored(pool: asyncpg.Pool, key: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM bot.sms_messages WHERE idempotency_key = $1", key)


async def expect_error(
    env: ActivityEnvironment, sms: GatewaySmsActivities, req: SmsRequest
) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await env.run(sms.send_sms, req)
    return caught.value


async def test_the_request_carries_token_key_and_body_and_the_receipt_the_gateway_id(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    receipt = await activity_env.run(activities(bot_pool, gateway.url).send_sms, request(key))

    [sent] = gateway.requests
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Idempotency-Key"] == key
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.body == {"to": PHONE, "text": TEXT, "idempotency_key": key}
    assert receipt.provider is SmsProvider.HTTP
    assert receipt.provider_message_id == gateway.delivered[key].id
    assert receipt.duplicate is False
    [row] = await stored(bot_pool, key)
    assert (row["status"], row["provider"], row["attempts"], row["last_error"]) == (
        "sent",
        "http",
        1,
        None,
    )
    assert (row["phone"], row["text"], row["provider_message_id"]) == (
        PHONE,
        TEXT,
        receipt.provider_message_id,
    )


async def test_a_sent_message_is_not_posted_again(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    sms = activities(bot_pool, gateway.url)
    first = await activity_env.run(sms.send_sms, request(key))
    again = await activity_env.run(sms.send_sms, request(key))

    assert len(gateway.requests) == 1
    assert again.duplicate is True
    assert again.provider_message_id == first.provider_message_id
    assert len(await stored(bot_pool, key)) == 1


async def test_a_lost_response_is_retried_and_the_gateway_dedups_by_key(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    # The gateway takes the message but answers after our timeout: we cannot know it went out.
    gateway.delay_s = 1.0
    error = await expect_error(
        activity_env, activities(bot_pool, gateway.url, timeout=0.3), request(key)
    )
    assert (error.type, error.non_retryable) == ("SmsGatewayDown", False)
    assert "did not answer within 0.3 s" in error.message
    [row] = await stored(bot_pool, key)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert "did not answer" in row["last_error"]

    gateway.delay_s = 0
    receipt = await activity_env.run(activities(bot_pool, gateway.url).send_sms, request(key))

    assert len(gateway.requests) == 2  # the retry reached the gateway...
    assert len(gateway.delivered) == 1  # ...which sent the SMS only once
    assert receipt.provider_message_id == gateway.delivered[key].id
    [row] = await stored(bot_pool, key)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)


async def test_5xx_is_retryable_until_the_gateway_recovers(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    sms = activities(bot_pool, gateway.url)
    gateway.fail_next(2, status=503)
    gateway.fail_next(1, status=500)
    for _ in range(3):
        error = await expect_error(activity_env, sms, request(key))
        assert (error.type, error.non_retryable) == ("SmsGatewayDown", False)
        assert error.next_retry_delay is None
    assert "answered 500: temporarily unavailable" in error.message
    [row] = await stored(bot_pool, key)
    assert (row["status"], row["attempts"]) == ("queued", 3)

    receipt = await activity_env.run(sms.send_sms, request(key))
    assert receipt.duplicate is False
    [row] = await stored(bot_pool, key)
    assert (row["status"], row["attempts"]) == ("sent", 4)
    assert len(gateway.delivered) == 1


async def test_429_is_retried_after_the_gateway_asks(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    gateway.fail_next(1, status=429, retry_after="7")
    error = await expect_error(activity_env, activities(bot_pool, gateway.url), request(key))
    assert (error.type, error.non_retryable) == ("SmsGatewayDown", False)
    assert error.next_retry_delay == timedelta(seconds=7)


async def test_4xx_is_a_final_rejection_with_the_gateways_words(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    gateway.reject(400, f"number {PHONE} is on the stop list")
    error = await expect_error(activity_env, activities(bot_pool, gateway.url), request(key))

    assert (error.type, error.non_retryable) == ("SmsRejected", True)
    assert error.message == (
        "SMS gateway rejected the message (400): number +7916***4567 is on the stop list"
    )
    [row] = await stored(bot_pool, key)
    assert row["status"] == "failed"
    assert PHONE not in row["last_error"]


async def test_a_wrong_token_is_retryable_so_fixing_the_configuration_delivers_it(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    error = await expect_error(
        activity_env, activities(bot_pool, gateway.url, token="wrong"), request(key)
    )
    assert (error.type, error.non_retryable) == ("SmsGatewayDown", False)
    assert "401" in error.message

    await activity_env.run(activities(bot_pool, gateway.url).send_sms, request(key))
    assert len(gateway.delivered) == 1


async def test_an_unreachable_gateway_is_retryable(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, key: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/messages"
    error = await expect_error(activity_env, activities(bot_pool, url), request(key))
    assert (error.type, error.non_retryable) == ("SmsGatewayDown", False)
    assert "unreachable" in error.message


async def test_a_text_too_long_never_reaches_the_gateway(
    bot_pool: asyncpg.Pool, activity_env: ActivityEnvironment, gateway: FakeSmsGateway, key: str
) -> None:
    sms = activities(bot_pool, gateway.url)
    error = await expect_error(activity_env, sms, request(key, text="Заказ принят. " * 10))

    assert (error.type, error.non_retryable) == ("SmsRejected", True)
    assert "140 UCS-2 characters; at most 134" in error.message
    assert gateway.requests == []
    assert await stored(bot_pool, key) == []

    await activity_env.run(sms.send_sms, request(key, text="я" * 134))
    assert gateway.requests[0].body["text"] == "я" * 134


async def test_the_gateway_token_is_in_no_error_log_line_or_stored_row(
    bot_pool: asyncpg.Pool,
    activity_env: ActivityEnvironment,
    gateway: FakeSmsGateway,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        refused = await expect_error(
            activity_env, activities(bot_pool, gateway.url, token=secret), request(key)
        )
        url = f"http://127.0.0.1:{free_port()}/v1/messages"
        away = await expect_error(
            activity_env, activities(bot_pool, url, token=secret), request(f"{key}-2")
        )
    assert "401" in refused.message and "unreachable" in away.message
    rows = [*await stored(bot_pool, key), *await stored(bot_pool, f"{key}-2")]
    shown = [refused.message, away.message, repr(logs), caplog.text, repr(rows)]
    assert [text for text in shown if secret in text] == []
