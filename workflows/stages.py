"""The call's stage machine, as tables you can read (dialog.md, "Stages of the call workflow").

`TRANSITIONS` says which event moves a call from one stage to the next; `ALLOWED_TOOLS`
says which agent tools a stage accepts. Everything else asks these two tables.
"""

from __future__ import annotations

from enum import StrEnum

from core.vocabulary import DRAFT_STAGES, Stage, ToolName


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


S, E, T = Stage, Event, ToolName

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

ALWAYS = frozenset({T.SEARCH_PRODUCTS, T.GET_PRODUCT, T.TRANSFER_TO_OPERATOR, T.END_CALL})
STATUS = frozenset({T.GET_ORDER_STATUS})
NEW_ORDER = frozenset({T.CREATE_ORDER_DRAFT})
EDIT = frozenset({T.CREATE_ORDER_DRAFT, T.UPDATE_ORDER_DELIVERY, T.CANCEL_ORDER})

ALLOWED_TOOLS: dict[Stage, frozenset[ToolName]] = {
    S.IDENTIFYING: frozenset(),
    S.LISTENING: ALWAYS | STATUS | NEW_ORDER,
    S.DRAFTING: ALWAYS | STATUS | EDIT,
    S.DELIVERY: ALWAYS | STATUS | EDIT | {T.CONFIRM_ORDER},
    S.AWAITING_CONFIRMATION: ALWAYS | STATUS | EDIT | {T.CONFIRM_ORDER},
    # the order is being confirmed (maybe retried after an outage): nothing may change it
    S.CONFIRMING: frozenset({T.GET_ORDER_STATUS, T.TRANSFER_TO_OPERATOR, T.END_CALL}),
    S.CONFIRMED: ALWAYS | STATUS | NEW_ORDER,
    S.SMS_SENT: ALWAYS | STATUS | NEW_ORDER,
    S.CANCELLED: ALWAYS | STATUS | NEW_ORDER,
    S.TRANSFERRED: frozenset(),
    S.ENDED: frozenset(),
}

# Only offered when the CallerID is withheld (tools.md).
WITHHELD_ONLY = frozenset({T.SET_CONTACT_PHONE})


def allowed_tools(stage: Stage, *, withheld: bool) -> frozenset[ToolName]:
    tools = ALLOWED_TOOLS[stage]
    if withheld and tools:
        tools = tools | WITHHELD_ONLY
    return tools


# Why a tool is refused, in words the LLM can act on.
REFUSALS: dict[tuple[ToolName, Stage], str] = {
    (T.CONFIRM_ORDER, S.DRAFTING): "Сначала нужно выбрать доставку: курьер или самовывоз.",
    (T.CONFIRM_ORDER, S.LISTENING): "Нет заказа для подтверждения: сначала соберите черновик.",
    (T.UPDATE_ORDER_DELIVERY, S.LISTENING): "Нет черновика заказа: сначала create_order_draft.",
    (T.CANCEL_ORDER, S.LISTENING): "Нет заказа, который можно отменить в этом звонке.",
    (T.CANCEL_ORDER, S.CONFIRMED): "Заказ уже подтверждён; отмену оформляет оператор.",
    (T.CANCEL_ORDER, S.SMS_SENT): "Заказ уже подтверждён; отмену оформляет оператор.",
}


def refusal(tool: ToolName, stage: Stage) -> str:
    return REFUSALS.get((tool, stage), f"Инструмент {tool} недоступен на этапе {stage.value}.")
