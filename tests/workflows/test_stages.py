"""The stage table of workflows/stages.py against dialog.md's diagram and tools.md's guards."""

from __future__ import annotations

import re
from collections import deque

import pytest

from prompts.tools import TOOL_MODELS
from workflows.stages import (
    ALLOWED_TOOLS,
    TRANSITIONS,
    Event,
    Stage,
    TransitionError,
    allowed_tools,
    can,
    next_stage,
    refusal,
)

S, E = Stage, Event

# dialog.md, "Stages of the call workflow", written out by hand (not derived from the code):
#   IDENTIFYING ─► LISTENING ─► DRAFTING ─► DELIVERY ─► AWAITING_CONFIRMATION ─► CONFIRMING
#   ─► CONFIRMED ─► SMS_SENT; CANCELLED from the stages with a draft before CONFIRMING;
#   any live stage ─► TRANSFERRED; any stage ─► ENDED.
# plus what tools.md adds: a draft can be replaced (create_order_draft again) or get a new
# delivery at any point before CONFIRMING; a read-back can be spoken again; a read-back that
# was cut off / changed / not answered with a plain yes sends the call back to DELIVERY, as
# does a confirmation the Store API refused (TOTAL_MISMATCH, OUT_OF_STOCK); after an order
# (confirmed or cancelled) the caller can start a new one.
EXPECTED: dict[tuple[Stage, Event], Stage] = {
    (S.IDENTIFYING, E.IDENTIFIED): S.LISTENING,
    (S.IDENTIFYING, E.ENDED): S.ENDED,
    # LISTENING
    (S.LISTENING, E.DRAFT_CREATED): S.DRAFTING,
    (S.LISTENING, E.TRANSFERRED): S.TRANSFERRED,
    (S.LISTENING, E.ENDED): S.ENDED,
    # DRAFTING
    (S.DRAFTING, E.DRAFT_CREATED): S.DRAFTING,
    (S.DRAFTING, E.DELIVERY_SET): S.DELIVERY,
    (S.DRAFTING, E.CANCELLED): S.CANCELLED,
    (S.DRAFTING, E.TRANSFERRED): S.TRANSFERRED,
    (S.DRAFTING, E.ENDED): S.ENDED,
    # DELIVERY
    (S.DELIVERY, E.DRAFT_CREATED): S.DRAFTING,
    (S.DELIVERY, E.DELIVERY_SET): S.DELIVERY,
    (S.DELIVERY, E.READBACK_SPOKEN): S.AWAITING_CONFIRMATION,
    (S.DELIVERY, E.CANCELLED): S.CANCELLED,
    (S.DELIVERY, E.TRANSFERRED): S.TRANSFERRED,
    (S.DELIVERY, E.ENDED): S.ENDED,
    # AWAITING_CONFIRMATION
    (S.AWAITING_CONFIRMATION, E.DRAFT_CREATED): S.DRAFTING,
    (S.AWAITING_CONFIRMATION, E.DELIVERY_SET): S.DELIVERY,
    (S.AWAITING_CONFIRMATION, E.READBACK_SPOKEN): S.AWAITING_CONFIRMATION,
    (S.AWAITING_CONFIRMATION, E.READBACK_VOIDED): S.DELIVERY,
    (S.AWAITING_CONFIRMATION, E.CONFIRM_STARTED): S.CONFIRMING,
    (S.AWAITING_CONFIRMATION, E.CANCELLED): S.CANCELLED,
    (S.AWAITING_CONFIRMATION, E.TRANSFERRED): S.TRANSFERRED,
    (S.AWAITING_CONFIRMATION, E.ENDED): S.ENDED,
    # CONFIRMING: only forward, back to DELIVERY when the Store API refused, or out
    (S.CONFIRMING, E.CONFIRMED): S.CONFIRMED,
    (S.CONFIRMING, E.READBACK_VOIDED): S.DELIVERY,
    (S.CONFIRMING, E.TRANSFERRED): S.TRANSFERRED,
    (S.CONFIRMING, E.ENDED): S.ENDED,
    # CONFIRMED
    (S.CONFIRMED, E.SMS_SENT): S.SMS_SENT,
    (S.CONFIRMED, E.DRAFT_CREATED): S.DRAFTING,
    (S.CONFIRMED, E.TRANSFERRED): S.TRANSFERRED,
    (S.CONFIRMED, E.ENDED): S.ENDED,
    # SMS_SENT
    (S.SMS_SENT, E.DRAFT_CREATED): S.DRAFTING,
    (S.SMS_SENT, E.TRANSFERRED): S.TRANSFERRED,
    (S.SMS_SENT, E.ENDED): S.ENDED,
    # CANCELLED
    (S.CANCELLED, E.DRAFT_CREATED): S.DRAFTING,
    (S.CANCELLED, E.TRANSFERRED): S.TRANSFERRED,
    (S.CANCELLED, E.ENDED): S.ENDED,
    # TRANSFERRED: the bot's part is over; post-call work still ends the workflow
    (S.TRANSFERRED, E.ENDED): S.ENDED,
    # An operator (operators.md) may cancel the call's order up to and after confirmation.
    (S.DRAFTING, E.OPERATOR_CANCELLED): S.CANCELLED,
    (S.DELIVERY, E.OPERATOR_CANCELLED): S.CANCELLED,
    (S.AWAITING_CONFIRMATION, E.OPERATOR_CANCELLED): S.CANCELLED,
    (S.CONFIRMING, E.OPERATOR_CANCELLED): S.CANCELLED,
    (S.CONFIRMED, E.OPERATOR_CANCELLED): S.CANCELLED,
    (S.SMS_SENT, E.OPERATOR_CANCELLED): S.CANCELLED,
}

MAIN_LINE = [
    (S.IDENTIFYING, E.IDENTIFIED, S.LISTENING),
    (S.LISTENING, E.DRAFT_CREATED, S.DRAFTING),
    (S.DRAFTING, E.DELIVERY_SET, S.DELIVERY),
    (S.DELIVERY, E.READBACK_SPOKEN, S.AWAITING_CONFIRMATION),
    (S.AWAITING_CONFIRMATION, E.CONFIRM_STARTED, S.CONFIRMING),
    (S.CONFIRMING, E.CONFIRMED, S.CONFIRMED),
    (S.CONFIRMED, E.SMS_SENT, S.SMS_SENT),
]

# Stages with an unconfirmed draft: before CONFIRMING on the main line.
BEFORE_CONFIRMING_WITH_DRAFT = [S.DRAFTING, S.DELIVERY, S.AWAITING_CONFIRMATION]
# Stages in which the caller is talking to the bot (IDENTIFYING comes before the first turn:
# every caller update waits until identification is done).
LIVE = [stage for stage in S if stage not in {S.IDENTIFYING, S.TRANSFERRED, S.ENDED}]
ALL_PAIRS = [(stage, event) for stage in S for event in E]


def test_the_table_is_exactly_the_diagram() -> None:
    missing = {k: v for k, v in EXPECTED.items() if k not in TRANSITIONS}
    extra = {k: v for k, v in TRANSITIONS.items() if k not in EXPECTED}
    wrong = {k: (TRANSITIONS[k], v) for k, v in EXPECTED.items() if TRANSITIONS.get(k, v) != v}
    assert (missing, extra, wrong) == ({}, {}, {})


@pytest.mark.parametrize(("stage", "event", "target"), MAIN_LINE)
def test_main_line(stage: Stage, event: Event, target: Stage) -> None:
    assert next_stage(stage, event) is target
    assert can(stage, event)


@pytest.mark.parametrize("stage", BEFORE_CONFIRMING_WITH_DRAFT)
def test_cancel_possible_before_confirming(stage: Stage) -> None:
    assert next_stage(stage, E.CANCELLED) is S.CANCELLED


@pytest.mark.parametrize("stage", [S.CONFIRMING, S.CONFIRMED, S.SMS_SENT])
def test_cancel_impossible_once_confirming(stage: Stage) -> None:
    assert not can(stage, E.CANCELLED)
    with pytest.raises(TransitionError):
        next_stage(stage, E.CANCELLED)


@pytest.mark.parametrize("event", list(E))
def test_nothing_leaves_ended(event: Event) -> None:
    assert not can(S.ENDED, event)
    with pytest.raises(TransitionError, match=f"{event.value} is not possible in ENDED"):
        next_stage(S.ENDED, event)


@pytest.mark.parametrize("stage", LIVE)
def test_transfer_from_every_live_stage(stage: Stage) -> None:
    assert next_stage(stage, E.TRANSFERRED) is S.TRANSFERRED


def test_transferred_only_ends() -> None:
    assert [event for event in E if can(S.TRANSFERRED, event)] == [E.ENDED]


@pytest.mark.parametrize("stage", [stage for stage in S if stage is not S.ENDED])
def test_every_call_can_end(stage: Stage) -> None:
    assert next_stage(stage, E.ENDED) is S.ENDED


def test_every_stage_reachable_from_identifying() -> None:
    seen, queue = {S.IDENTIFYING}, deque([S.IDENTIFYING])
    while queue:
        stage = queue.popleft()
        for (source, _), target in TRANSITIONS.items():
            if source is stage and target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(S)


@pytest.mark.parametrize(
    ("stage", "event"), [pair for pair in ALL_PAIRS if pair not in EXPECTED], ids=str
)
def test_impossible_event_raises(stage: Stage, event: Event) -> None:
    assert not can(stage, event)
    with pytest.raises(TransitionError) as info:
        next_stage(stage, event)
    assert stage.value in str(info.value) and event.value in str(info.value)


def test_transition_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        next_stage(S.LISTENING, E.CONFIRMED)


# --- tools per stage ---------------------------------------------------------------------

DRAFT_TOOLS = {"update_order_delivery", "cancel_order"}


def stages_allowing(tool: str, *, withheld: bool = False) -> set[Stage]:
    return {stage for stage in S if tool in allowed_tools(stage, withheld=withheld)}


def test_every_stage_has_an_entry() -> None:
    assert set(ALLOWED_TOOLS) == set(S)


def test_tool_names_match_the_tool_models() -> None:
    named = set().union(*ALLOWED_TOOLS.values()) | {"set_contact_phone"}
    assert named == set(TOOL_MODELS)
    withheld = set().union(*(allowed_tools(stage, withheld=True) for stage in S))
    assert withheld == set(TOOL_MODELS)


@pytest.mark.parametrize("withheld", [False, True])
def test_confirm_only_in_delivery_and_awaiting(withheld: bool) -> None:
    assert stages_allowing("confirm_order", withheld=withheld) == {
        S.DELIVERY,
        S.AWAITING_CONFIRMATION,
    }


@pytest.mark.parametrize("tool", sorted(DRAFT_TOOLS))
@pytest.mark.parametrize("withheld", [False, True])
def test_draft_tools_only_with_a_draft(tool: str, withheld: bool) -> None:
    assert stages_allowing(tool, withheld=withheld) == set(BEFORE_CONFIRMING_WITH_DRAFT)


@pytest.mark.parametrize("stage", list(S))
def test_set_contact_phone_only_when_withheld(stage: Stage) -> None:
    assert "set_contact_phone" not in allowed_tools(stage, withheld=False)
    assert "set_contact_phone" not in ALLOWED_TOOLS[stage]
    with_phone = allowed_tools(stage, withheld=True)
    if ALLOWED_TOOLS[stage]:
        assert with_phone == ALLOWED_TOOLS[stage] | {"set_contact_phone"}
    else:
        assert with_phone == frozenset()


@pytest.mark.parametrize("stage", [S.IDENTIFYING, S.TRANSFERRED, S.ENDED])
@pytest.mark.parametrize("withheld", [False, True])
def test_no_tools_outside_the_conversation(stage: Stage, withheld: bool) -> None:
    assert allowed_tools(stage, withheld=withheld) == frozenset()


@pytest.mark.parametrize("stage", LIVE)
def test_the_caller_can_always_leave(stage: Stage) -> None:
    assert {"transfer_to_operator", "end_call"} <= allowed_tools(stage, withheld=False)


def test_nothing_changes_the_order_while_confirming() -> None:
    tools = allowed_tools(S.CONFIRMING, withheld=False)
    assert not tools & {"create_order_draft", "update_order_delivery", "cancel_order"}
    assert "confirm_order" not in tools


# The event each tool moves the call with; a tool a stage accepts must not lead the workflow
# into a transition the table refuses (that would be a TransitionError inside the workflow).
TOOL_EVENTS: dict[str, list[Event]] = {
    "create_order_draft": [E.DRAFT_CREATED],
    "update_order_delivery": [E.DELIVERY_SET],
    "cancel_order": [E.CANCELLED],
    "transfer_to_operator": [E.TRANSFERRED],
    "end_call": [E.ENDED],
}


@pytest.mark.parametrize("stage", list(S))
@pytest.mark.parametrize("withheld", [False, True])
def test_allowed_tools_lead_to_possible_transitions(stage: Stage, withheld: bool) -> None:
    for tool in allowed_tools(stage, withheld=withheld):
        for event in TOOL_EVENTS.get(tool, []):
            assert can(stage, event), (tool, stage)
    if "confirm_order" in allowed_tools(stage, withheld=withheld):
        # first call speaks the read-back; in AWAITING_CONFIRMATION the second one confirms
        assert can(stage, E.READBACK_SPOKEN)
        assert stage is S.DELIVERY or can(stage, E.CONFIRM_STARTED)


# --- refusals -----------------------------------------------------------------------------

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@pytest.mark.parametrize("stage", list(S))
@pytest.mark.parametrize("tool", sorted(TOOL_MODELS))
def test_refusal_is_russian(tool: str, stage: Stage) -> None:
    text = refusal(tool, stage)
    assert text.strip()
    assert len(CYRILLIC.findall(text)) >= 10, text


def test_specific_refusals() -> None:
    assert "доставк" in refusal("confirm_order", S.DRAFTING)
    assert "черновик" in refusal("update_order_delivery", S.LISTENING).lower()
    assert "оператор" in refusal("cancel_order", S.CONFIRMED)
    assert "оператор" in refusal("cancel_order", S.SMS_SENT)


def test_generic_refusal_names_tool_and_stage() -> None:
    text = refusal("set_contact_phone", S.CONFIRMING)
    assert "set_contact_phone" in text and "CONFIRMING" in text
