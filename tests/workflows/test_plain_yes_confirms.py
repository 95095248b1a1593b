"""A plain "да" to the workflow's read-back confirms the order without asking the agent
(patch `plain-yes-confirms-1`), as the keypad's 1 does: the turn is recorded and the model's
messages kept as if the agent had called `confirm_order`. Whatever `ReadbackGuard` would
refuse (a cut-off read-back, a yes with more words) still goes to the agent.

The guard itself is tested in test_confirmation.py; these are the calls around it."""

from __future__ import annotations

import json
from typing import Any

from core.vocabulary import Stage
from store_api.seed.personas import NO_ORDERS
from tests.support.fake_llm import Reply, last_tool_result, last_user_text
from tests.support.payload_keys import TEST_DATA_CONVERTER
from tests.support.servers import StoreApiServer
from tests.workflows.call_state import stage_reached
from tests.workflows.conftest import Calls
from tests.workflows.history import keep_history
from tests.workflows.scripts import say
from tests.workflows.test_guided_scenarios import guided_readback
from tests.workflows.test_order_scenarios import draft_and_readback, orders_of_call
from workflows.client import CallSession
from workflows.conversation import PLAIN_YES_CONFIRMS


async def logged_turn(calls: Calls, call_id: str, caller_text: str) -> dict[str, Any]:
    """The call log's last turn in which the caller said `caller_text` (the call has ended)."""
    rows = await calls.fetch(
        "SELECT turn_no, reply_text, stage, tools FROM bot.call_turns"
        " WHERE call_id = $1 AND caller_text = $2 ORDER BY turn_no",
        call_id,
        caller_text,
    )
    assert rows, f"no logged turn {caller_text!r}"
    row = dict(rows[-1])
    row["tools"] = json.loads(row["tools"])
    return row


async def step_summaries(call: CallSession) -> list[str]:
    """The summaries of the call's steps, as an operator's Web UI shows them (decrypted)."""
    history = await call.handle.fetch_history()
    encoded = [
        event.user_metadata.summary
        for event in history.events
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
    ]
    return [str(summary) for summary in await TEST_DATA_CONVERTER.decode(encoded)]


async def has_patch_marker(call: CallSession, patch_id: str) -> bool:
    history = await call.handle.fetch_history()
    return any(
        patch_id.encode() in event.marker_recorded_event_attributes.SerializeToString()
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
    )


def agent_steps_at_readback(summaries: list[str]) -> list[str]:
    """Agent steps (LLM or guided) asked while the read-back waited for its answer."""
    return [
        s
        for s in summaries
        if s.startswith(("agent turn", "guided turn")) and s.endswith("in AWAITING_CONFIRMATION")
    ]


async def test_a_plain_yes_after_a_full_readback_confirms_without_asking_the_model(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await draft_and_readback(
        calls, NO_ORDERS.phone, [say("Привезём завтра. Что-нибудь ещё?")]
    )
    asked = len(calls.llm.requests(call.call_id))
    confirmed = await call.say("Да")
    assert confirmed.stage == "CONFIRMED" and "оформлен" in confirmed.text, confirmed
    assert len(calls.llm.requests(call.call_id)) == asked, "the model was not asked"

    # The model's next turn sees the confirmation exactly as if it had called confirm_order.
    # The SMS goes out in the background after the confirmation; waiting for it keeps the
    # next turn's stage from depending on which finishes first.
    await stage_reached(call, Stage.SMS_SENT)
    assert (await call.say("А когда привезут?")).stage == Stage.SMS_SENT
    request = calls.llm.requests(call.call_id)[-1]
    messages = request["messages"]
    yes = max(i for i, m in enumerate(messages) if m["role"] == "user" and m["content"] == "Да")
    proposed, result, spoken = messages[yes + 1 : yes + 4]
    [tool_call] = proposed["tool_calls"]
    assert proposed["role"] == "assistant" and proposed["content"] is None
    assert tool_call["function"] == {"name": "confirm_order", "arguments": "{}"}
    assert tool_call["id"].startswith("confirm-")
    assert result["role"] == "tool" and result["tool_call_id"] == tool_call["id"]
    assert spoken == {"role": "assistant", "content": confirmed.text}

    await call.hang_up()
    assert await call.result() == "order_confirmed"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"], "exactly one order, confirmed"
    assert last_tool_result(request, "confirm_order") == {
        "confirmed": True,
        "order_number": orders[0]["number"],
    }
    assert len(await calls.sms_of(call.call_id)) == 1
    events = await calls.audit_events(call.call_id)
    assert events.count("order_confirmed") == 1

    # The call log shows the tool run in that turn, as for any tool the agent proposed.
    turn = await logged_turn(calls, call.call_id, "Да")
    assert turn["stage"] == "CONFIRMED" and turn["reply_text"] == confirmed.text
    assert [(t["name"], t["outcome"]) for t in turn["tools"]] == [("confirm_order", "ok")]
    summaries = await step_summaries(call)
    assert agent_steps_at_readback(summaries) == [], summaries
    assert any(s.startswith("confirm order") for s in summaries), summaries
    assert await has_patch_marker(call, PLAIN_YES_CONFIRMS)
    calls.llm.assert_consumed(call.call_id)
    await keep_history(call, "plain_yes_confirms_without_the_model")


async def test_a_yes_with_more_words_still_goes_to_the_model(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await draft_and_readback(
        calls, NO_ORDERS.phone, [say("Хорошо. Сколько пачек гречки добавить?")]
    )
    asked = len(calls.llm.requests(call.call_id))
    reply = await call.say("Да, но добавьте ещё гречку")
    assert reply.stage == "AWAITING_CONFIRMATION" and "Сколько пачек" in reply.text, reply
    requests = calls.llm.requests(call.call_id)
    assert len(requests) == asked + 1, "the model answers a yes that is not plain"
    assert last_user_text(requests[-1]) == "Да, но добавьте ещё гречку"
    await call.hang_up()
    await call.result()
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["cancelled"], "never confirmed"
    assert "order_confirmed" not in await calls.audit_events(call.call_id)
    assert not await has_patch_marker(call, PLAIN_YES_CONFIRMS), "the guard refused: no patch"
    calls.llm.assert_consumed(call.call_id)
    await keep_history(call, "plain_yes_with_more_words_asks_the_model")


async def test_a_plain_yes_after_an_interrupted_readback_goes_to_the_model(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await draft_and_readback(
        calls,
        NO_ORDERS.phone,
        [
            Reply.tool("confirm_order"),  # the model's, after the "да" to a cut-off read-back
            say("Давайте я повторю заказ."),
            Reply.tool("confirm_order"),  # the read-back again
        ],
    )
    call.report_playback(played_to_end=False)
    asked = len(calls.llm.requests(call.call_id))
    reply = await call.say("Да")
    assert reply.stage == "DELIVERY", "a cut-off read-back must be read again"
    requests = calls.llm.requests(call.call_id)
    assert len(requests) == asked + 2, "the model was asked, and its confirm_order refused"
    assert "прервали" in last_tool_result(requests[-1], "confirm_order")["error"]

    again = await call.say("Повторите, пожалуйста")
    assert again.stage == "AWAITING_CONFIRMATION", again
    asked = len(calls.llm.requests(call.call_id))
    # This read-back was heard to the end: its plain yes is the workflow's to confirm.
    assert (await call.say("Да")).stage == "CONFIRMED"
    assert len(calls.llm.requests(call.call_id)) == asked
    await call.hang_up()
    assert await call.result() == "order_confirmed"
    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    events = await calls.audit_events(call.call_id)
    assert events.count("order_readback_spoken") == 2 and events.count("order_confirmed") == 1
    calls.llm.assert_consumed(call.call_id)
    await keep_history(call, "plain_yes_after_interrupted_readback")


async def test_guided_a_plain_yes_confirms_without_asking_the_guided_agent(
    calls: Calls, store_api: StoreApiServer
) -> None:
    call = await guided_readback(calls)
    confirmed = await call.say("Да")
    assert confirmed.stage == "CONFIRMED" and "оформлен" in confirmed.text, confirmed
    # The guided agent's memory still waited for the read-back's answer; the stage corrects it.
    goodbye = await call.say("Нет, спасибо")
    assert goodbye.action == "hangup", goodbye
    assert await call.result() == "order_confirmed"

    orders = await orders_of_call(store_api, NO_ORDERS.phone, call.call_id)
    assert [o["status"] for o in orders] == ["confirmed"]
    assert len(await calls.sms_of(call.call_id)) == 1
    turn = await logged_turn(calls, call.call_id, "Да")
    assert [(t["name"], t["outcome"]) for t in turn["tools"]] == [("confirm_order", "ok")]
    summaries = await step_summaries(call)
    assert agent_steps_at_readback(summaries) == [], summaries
    assert any(s.startswith("guided turn") for s in summaries), "the guided agent led the call"
    assert calls.llm.requests(call.call_id) == []
    await keep_history(call, "guided_plain_yes_confirms")


async def test_guided_a_yes_the_guard_refuses_still_goes_to_the_guided_agent(
    calls: Calls,
) -> None:
    call = await guided_readback(calls)
    reply = await call.say("Да, наверное")
    assert reply.stage == "AWAITING_CONFIRMATION", reply
    assert "скажите да" in reply.text, "the guided agent asks for the plain yes"
    summaries = await step_summaries(call)
    assert len(agent_steps_at_readback(summaries)) == 1, summaries
    assert (await call.say("Да")).stage == "CONFIRMED"
    await call.hang_up()
    assert await call.result() == "order_confirmed"
    assert len(agent_steps_at_readback(await step_summaries(call))) == 1
    await keep_history(call, "guided_plain_yes_after_an_unsure_yes")
