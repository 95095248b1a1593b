"""Guessing order numbers is capped (issue 12, SEC1): look-ups by number that match none of
the phone's orders, per call and per phone across calls. At the cap no look-up is made; the
agent is told to offer an operator, and every refusal is audited."""

from __future__ import annotations

import json
from typing import Any

import httpx

from core.vocabulary import AgentMode, ErrorType
from guided import lines
from tests.store_api.server.conftest import fresh_phone, new_draft
from tests.support.fake_llm import Reply
from tests.support.servers import StoreApiServer
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.test_status_scenarios import tool_results
from workflows.models import LookupLimits

# Order numbers nobody has (the demo data numbers its orders from 100001).
UNKNOWN = [f"7770{n:04d}" for n in range(1, 20)]


def status(number: str | None = None) -> Reply:
    return Reply.tool("get_order_status", {"order_number": number} if number else {})


def spoken(phone: str) -> str:
    """`+79991234567` as a caller dictates it: `8 999 123-45-67`."""
    digits = phone.removeprefix("+7")
    return f"8 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


async def audit_rows(calls: Calls, call_id: str, event: str) -> list[dict[str, Any]]:
    rows = await calls.fetch(
        "SELECT order_number, phone, details::text AS details FROM bot.order_audit"
        " WHERE call_id = $1 AND event = $2 ORDER BY at, id",
        call_id,
        event,
    )
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


async def test_a_withheld_caller_guessing_numbers_is_stopped_at_the_cap_per_call(
    calls: Calls, store_api: StoreApiServer
) -> None:
    victim = fresh_phone()
    async with httpx.AsyncClient(base_url=store_api.base_url, headers=store_api.auth) as api:
        real = (await new_draft(api, phone=victim))["number"]
    cap = 3
    call = await calls.start(
        None,
        [
            Reply.tool("set_contact_phone", {"phone": spoken(victim)}),
            status(real),
            Reply.text("Ваш заказ оформляется."),
            *[step for number in UNKNOWN[:cap] for step in (status(number), Reply.text("Нет."))],
            status(real),
            Reply.text("Соединить вас с оператором?"),
            status(UNKNOWN[cap]),
            Reply.text("Соединить вас с оператором?"),
        ],
        lookup_limits=LookupLimits(per_call=cap, per_phone=100),
    )
    await call.say(f"Мой телефон {spoken(victim)}")
    await call.say("Да")  # the number read back is confirmed; the first look-up finds the order
    for number in UNKNOWN[:cap]:
        await call.say(f"А заказ {number}?")
    offered = await call.say(f"А заказ {real}?")
    assert "оператор" in offered.text
    await call.say(f"Тогда заказ {UNKNOWN[cap]}?")
    await call.hang_up()
    await call.result()

    results = [
        json.loads(r)
        for r in tool_results(calls.llm.requests(call.call_id)[-1], "get_order_status")
    ]
    assert results[0]["found"] is True and results[0]["number"] == real
    # cap − 1 failures before it: the cap-th look-up is still made (and fails).
    assert [r.get("found") for r in results[1 : cap + 1]] == [False] * cap
    # At the cap and past it: refused, even for the number that exists.
    for refused in results[cap + 1 :]:
        assert refused["code"] == ErrorType.LOOKUP_LIMIT_REACHED and "оператор" in refused["error"]
        assert "say" not in refused and "status" not in refused
    assert len(results) == cap + 3

    events = await calls.audit_events(call.call_id)
    assert events.count("order_status_viewed") == 1, "the real order was heard once, before"
    assert events.count("order_lookup_denied") == cap
    refusals = await audit_rows(calls, call.call_id, "order_lookup_refused")
    assert [r["order_number"] for r in refusals] == [real, UNKNOWN[cap]]
    assert {r["phone"] for r in refusals} == {victim}
    assert refusals[0]["details"] == {"cap": "per_call", "failed": cap, "limit": cap}
    await keep_history(call, "lookup_cap_per_call")


async def test_the_cap_per_phone_counts_failures_of_earlier_calls(calls: Calls) -> None:
    phone = fresh_phone()
    limits = LookupLimits(per_call=3, per_phone=5)
    first = await calls.start(
        phone,
        [step for n in UNKNOWN[:3] for step in (status(n), Reply.text("Нет."))],
        lookup_limits=limits,
    )
    for number in UNKNOWN[:3]:
        await first.say(f"Заказ {number}")
    await first.hang_up()
    await first.result()

    second = await calls.start(
        phone,
        [
            *[step for n in UNKNOWN[3:7] for step in (status(n), Reply.text("Нет."))],
            status(),  # the caller's own orders: no number, nothing to guess, never capped
            Reply.text("Активных заказов нет."),
        ],
        lookup_limits=limits,
    )
    for number in UNKNOWN[3:7]:
        await second.say(f"Заказ {number}")
    await second.say("А какие у меня заказы?")
    await second.hang_up()
    await second.result()

    results = [
        json.loads(r)
        for r in tool_results(calls.llm.requests(second.call_id)[-1], "get_order_status")
    ]
    # 3 earlier + 0, then 3 + 1 = cap − 1: both made; at 3 + 2 = cap and past it: refused.
    assert [r.get("found") for r in results[:2]] == [False, False]
    assert [r.get("code") for r in results[2:4]] == [ErrorType.LOOKUP_LIMIT_REACHED] * 2
    assert results[4]["count"] == 0 and "error" not in results[4]
    assert (await calls.audit_events(second.call_id)).count("order_lookup_denied") == 2
    refusals = await audit_rows(calls, second.call_id, "order_lookup_refused")
    assert [r["details"] for r in refusals] == [
        {"cap": "per_phone", "failed": 5, "limit": 5},
        {"cap": "per_phone", "failed": 5, "limit": 5},
    ]


async def test_the_guided_agent_offers_an_operator_at_the_cap(calls: Calls) -> None:
    call = await calls.start(
        fresh_phone(), agent=AgentMode.GUIDED, lookup_limits=LookupLimits(per_call=2)
    )
    for number in UNKNOWN[:2]:
        reply = await call.say(f"Что с заказом {number}?")
        assert "Не нашла заказ с таким номером" in reply.text, reply
    offered = await call.say(f"А заказ {UNKNOWN[2]}?")
    assert offered.text == lines.lookup_limit(), offered
    transferred = await call.say("Да")
    assert transferred.action == "transfer"
    assert await call.result() == "transferred"
    events = await calls.audit_events(call.call_id)
    assert events.count("order_lookup_denied") == 2 and events.count("order_lookup_refused") == 1
    assert calls.llm.requests(call.call_id) == []
    await keep_history(call, "guided_lookup_cap")
