"""The call's stage machine, as tables you can read (dialog.md, "Stages of the call workflow").

`TRANSITIONS` says which event moves a call from one stage to the next; `ALLOWED_TOOLS`
says which agent tools a stage accepts. Everything else asks these two tables.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    IDENTIFYING = "IDENTIFYING"
    LISTENING = "LISTENING"
    DRAFTING = "DRAFTING"
    DELIVERY = "DELIVERY"
    AWAITING_CONFIRMATION = "AWAITING_CONFIRMATION"
    CONFIRMING = "CONFIRMING"
    CONFIRMED = "CONFIRMED"
    SMS_SENT = "SMS_SENT"
    CANCELLED = "CANCELLED"
    TRANSFERRED = "TRANSFERRED"
    ENDED = "ENDED"


class Event(StrEnum):
    IDENTIFIED = "identified"
    DRAFT_CREATED = "draft_created"  # also: a draft replaced without a delivery
    DELIVERY_SET = "delivery_set"  # also: a draft replaced and its delivery re-applied
    READBACK_SPOKEN = "readback_spoken"
    READBACK_VOIDED = "readback_voided"  # cut off, changed, or not a plain yes
    CONFIRM_STARTED = "confirm_started"
    CONFIRMED = "confirmed"
    SMS_SENT = "sms_sent"
    CANCELLED = "cancelled"
    # An operator cancels the call's order: also a postponed or finished confirmation.
    OPERATOR_CANCELLED = "operator_cancelled"
    TRANSFERRED = "transferred"
    ENDED = "ended"


S, E = Stage, Event

# Stages where an unconfirmed draft exists: the caller can still cancel it.
DRAFT_STAGES = frozenset({S.DRAFTING, S.DELIVERY, S.AWAITING_CONFIRMATION})
# A new order can start from here.
IDLE_STAGES = frozenset({S.LISTENING, S.CONFIRMED, S.SMS_SENT, S.CANCELLED})
FINAL_STAGES = frozenset({S.TRANSFERRED, S.ENDED})

TRANSITIONS: dict[tuple[Stage, Event], Stage] = {
    (S.IDENTIFYING, E.IDENTIFIED): S.LISTENING,
    # a new draft: from idle, or replacing the current one
    **{(stage, E.DRAFT_CREATED): S.DRAFTING for stage in IDLE_STAGES | DRAFT_STAGES},
    **{(stage, E.DELIVERY_SET): S.DELIVERY for stage in DRAFT_STAGES},
    (S.DELIVERY, E.READBACK_SPOKEN): S.AWAITING_CONFIRMATION,
    (S.AWAITING_CONFIRMATION, E.READBACK_SPOKEN): S.AWAITING_CONFIRMATION,
    (S.AWAITING_CONFIRMATION, E.READBACK_VOIDED): S.DELIVERY,
    (S.AWAITING_CONFIRMATION, E.CONFIRM_STARTED): S.CONFIRMING,
    (S.CONFIRMING, E.CONFIRMED): S.CONFIRMED,
    (S.CONFIRMING, E.READBACK_VOIDED): S.DELIVERY,  # total changed or stock ran out
    (S.CONFIRMED, E.SMS_SENT): S.SMS_SENT,
    **{(stage, E.CANCELLED): S.CANCELLED for stage in DRAFT_STAGES},
    **{
        (stage, E.OPERATOR_CANCELLED): S.CANCELLED
        for stage in DRAFT_STAGES | {S.CONFIRMING, S.CONFIRMED, S.SMS_SENT}
    },
    **{
        (stage, E.TRANSFERRED): S.TRANSFERRED
        for stage in S
        if stage not in FINAL_STAGES | {S.IDENTIFYING}
    },
    **{(stage, E.ENDED): S.ENDED for stage in S if stage is not S.ENDED},
}


class TransitionError(ValueError):
    """An event that the stage table does not allow; a bug in the caller, not user input."""


def next_stage(stage: Stage, event: Event) -> Stage:
    try:
        return TRANSITIONS[(stage, event)]
    except KeyError:
        raise TransitionError(f"{event.value} is not possible in {stage.value}") from None


def can(stage: Stage, event: Event) -> bool:
    return (stage, event) in TRANSITIONS


# --- tools per stage ---------------------------------------------------------------------

ALWAYS = frozenset({"search_products", "get_product", "transfer_to_operator", "end_call"})
STATUS = frozenset({"get_order_status"})
NEW_ORDER = frozenset({"create_order_draft"})
EDIT = frozenset({"create_order_draft", "update_order_delivery", "cancel_order"})

ALLOWED_TOOLS: dict[Stage, frozenset[str]] = {
    S.IDENTIFYING: frozenset(),
    S.LISTENING: ALWAYS | STATUS | NEW_ORDER,
    S.DRAFTING: ALWAYS | STATUS | EDIT,
    S.DELIVERY: ALWAYS | STATUS | EDIT | {"confirm_order"},
    S.AWAITING_CONFIRMATION: ALWAYS | STATUS | EDIT | {"confirm_order"},
    # the order is being confirmed (maybe retried after an outage): nothing may change it
    S.CONFIRMING: frozenset({"get_order_status", "transfer_to_operator", "end_call"}),
    S.CONFIRMED: ALWAYS | STATUS | NEW_ORDER,
    S.SMS_SENT: ALWAYS | STATUS | NEW_ORDER,
    S.CANCELLED: ALWAYS | STATUS | NEW_ORDER,
    S.TRANSFERRED: frozenset(),
    S.ENDED: frozenset(),
}

# Only offered when the CallerID is withheld (tools.md).
WITHHELD_ONLY = frozenset({"set_contact_phone"})


def allowed_tools(stage: Stage, *, withheld: bool) -> frozenset[str]:
    tools = ALLOWED_TOOLS[stage]
    if withheld and tools:
        tools = tools | WITHHELD_ONLY
    return tools


# Why a tool is refused, in words the LLM can act on.
REFUSALS: dict[tuple[str, Stage], str] = {
    ("confirm_order", S.DRAFTING): "Сначала нужно выбрать доставку: курьер или самовывоз.",
    ("confirm_order", S.LISTENING): "Нет заказа для подтверждения: сначала соберите черновик.",
    ("update_order_delivery", S.LISTENING): "Нет черновика заказа: сначала create_order_draft.",
    ("cancel_order", S.LISTENING): "Нет заказа, который можно отменить в этом звонке.",
    ("cancel_order", S.CONFIRMED): "Заказ уже подтверждён; отмену оформляет оператор.",
    ("cancel_order", S.SMS_SENT): "Заказ уже подтверждён; отмену оформляет оператор.",
}


def refusal(tool: str, stage: Stage) -> str:
    return REFUSALS.get((tool, stage), f"Инструмент {tool} недоступен на этапе {stage.value}.")
