"""The words every layer shares: call stages, reply actions, agent modes, what a reply expects
next, tool names, error types, Attention values, call outcomes and hang-up reasons.

Values that cross packages are these types, never retyped strings, so strict mypy catches a
rename and a grep finds every use. All are `StrEnum`s: they travel through Temporal, JSON and
the Web UI as the same plain strings they always were (recorded histories keep replaying).
No I/O, no imports beyond the standard library: every layer may import this module.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where a call is (dialog.md, "Stages of the call workflow"); the transitions table lives
    in workflows/stages.py."""

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


# Stages where an unconfirmed draft exists: the caller can still change or cancel it.
DRAFT_STAGES = frozenset({Stage.DRAFTING, Stage.DELIVERY, Stage.AWAITING_CONFIRMATION})


class Action(StrEnum):
    """What the edge does once a reply has been spoken."""

    CONTINUE = "continue"
    TRANSFER = "transfer"  # to the operators (ARI `continue` into OPERATOR_CONTEXT)
    HANGUP = "hangup"


class AgentMode(StrEnum):
    """Who leads the dialog. A call runs as LLM or GUIDED; AUTO (a setting and a call's start
    choice) means the LLM, and the guided agent from the turn the LLM fails."""

    LLM = "llm"
    GUIDED = "guided"
    AUTO = "auto"


class Expectation(StrEnum):
    """What the bot's reply asks of the caller, so the edge can choose how long a pause ends
    the caller's turn: short after a yes/no question, long while digits or an address are
    dictated in pieces."""

    YES_NO = "yes_no"
    DIGITS = "digits"  # an order number, a phone number, a quantity
    ADDRESS = "address"
    PRODUCT = "product"
    FREE = "free"  # anything: an open question, or no question at all


class ToolName(StrEnum):
    """The agent's tools (tools.md); prompts/tools.py holds their argument models."""

    SEARCH_PRODUCTS = "search_products"
    GET_PRODUCT = "get_product"
    TRANSFER_TO_OPERATOR = "transfer_to_operator"
    END_CALL = "end_call"
    GET_ORDER_STATUS = "get_order_status"
    CREATE_ORDER_DRAFT = "create_order_draft"
    UPDATE_ORDER_DELIVERY = "update_order_delivery"
    CONFIRM_ORDER = "confirm_order"
    CANCEL_ORDER = "cancel_order"
    SET_CONTACT_PHONE = "set_contact_phone"


class ErrorType(StrEnum):
    """`ApplicationError.type` of the failures the workflow branches on and operators read in
    the Web UI. Store API errors are named after the client's exception classes
    (store_api/client/errors.py; a test keeps the two in step)."""

    # Store API
    STORE_UNAVAILABLE = "StoreUnavailable"  # 5xx, timeout, connection, breaker open
    TOTAL_MISMATCH = "TotalMismatch"
    OUT_OF_STOCK = "OutOfStock"
    ORDER_NOT_EDITABLE = "OrderNotEditable"
    ORDER_NOT_CANCELLABLE = "OrderNotCancellable"
    DELIVERY_REQUIRED = "DeliveryRequired"
    DELIVERY_UNAVAILABLE = "DeliveryUnavailable"
    PICKUP_POINT_NOT_FOUND = "PickupPointNotFound"
    PRODUCT_NOT_FOUND = "ProductNotFound"
    ORDER_NOT_FOUND = "OrderNotFound"
    CUSTOMER_NOT_FOUND = "CustomerNotFound"
    INVALID_PHONE = "InvalidPhone"
    STORE_BAD_REQUEST = "StoreBadRequest"
    STORE_AUTH_ERROR = "StoreAuthError"
    STORE_NOT_FOUND = "StoreNotFound"
    STORE_CONFLICT = "StoreConflict"
    STORE_VALIDATION_ERROR = "StoreValidationError"
    STORE_RATE_LIMITED = "StoreRateLimited"
    STORE_PROTOCOL_ERROR = "StoreProtocolError"
    STORE_API_ERROR = "StoreApiError"  # the client's base class: an error it has no class for
    IDEMPOTENCY_KEY_REQUIRED = "IdempotencyKeyRequired"
    IDEMPOTENCY_KEY_INVALID = "IdempotencyKeyInvalid"
    IDEMPOTENCY_KEY_IN_PROGRESS = "IdempotencyKeyInProgress"
    IDEMPOTENCY_KEY_REUSED = "IdempotencyKeyReused"
    SEARCH_CRITERIA_REQUIRED = "SearchCriteriaRequired"
    # LLM
    LLM_UNAVAILABLE = "LlmUnavailable"
    LLM_NOT_CONFIGURED = "LlmNotConfigured"
    LLM_BAD_REQUEST = "LlmBadRequest"
    # The bot's database, the SMS gateway
    BOT_DATABASE_UNAVAILABLE = "BotDatabaseUnavailable"
    BOT_DATA_REJECTED = "BotDataRejected"
    SMS_GATEWAY_DOWN = "SmsGatewayDown"
    SMS_REJECTED = "SmsRejected"
    # Temporal and the workflow itself
    TIMEOUT = "TimeoutError"  # an activity ran out of time (temporalio's TimeoutError)
    CALL_ENDED = "CallEnded"  # a turn that arrived after the call ended
    # A tool result, not a failure: failed order look-ups reached their cap (per call or
    # per phone); the agent offers an operator instead of looking again.
    LOOKUP_LIMIT_REACHED = "LookupLimitReached"


class Attention(StrEnum):
    """The `Attention` search attribute (operators.md): what an operator should look at."""

    NONE = ""
    STORE_UNAVAILABLE = "store_unavailable"
    SMS_FAILED = "sms_failed"
    CONFIRM_FAILED = "confirm_failed"
    AGENT_UNAVAILABLE = "agent_unavailable"
    EDGE_LOST = "edge_lost"
    # An audit or call-log write failed for good (a row the database refused, or an outage
    # past the retry window): the record is missing, the call's order work went on.
    RECORDS_FAILED = "records_failed"


class CallOutcome(StrEnum):
    """The `CallOutcome` search attribute and the workflow's result."""

    UNKNOWN = ""  # still running
    ORDER_CONFIRMED = "order_confirmed"
    ORDER_CANCELLED = "order_cancelled"
    CANCELLED_BY_OPERATOR = "cancelled_by_operator"
    TRANSFERRED = "transferred"
    COMPLETED = "completed"  # the bot said goodbye
    NO_RESPONSE = "no_response"  # the caller stayed silent
    EDGE_LOST = "edge_lost"
    HUNG_UP = "hung_up"


class HangupReason(StrEnum):
    """Why a call's line closed, as the edge reports it to the workflow (`hang_up`)."""

    CALLER = "caller"  # EOF from Asterisk, an inbound 0x00, or ARI said the caller left
    BOT = "bot"  # the bot ended the call (goodbye or transfer) and sent 0x00
    PROTOCOL_ERROR = "protocol_error"
    HANDLER_ERROR = "handler_error"
    SERVER_CLOSED = "server_closed"  # the edge shut down
    TOO_FAST = "too_fast"  # the edge cut off a connection sending audio faster than real time
    EDGE_LOST = "edge_lost"  # the workflow heard nothing from the edge for too long
    CHAT_ENDED = "chat ended"  # `voiceorder chat` ran out of lines


class SmsProvider(StrEnum):
    """Who sends the SMS (the SMS_PROVIDER setting; also named in every receipt)."""

    DATABASE = "database"  # dev: the message is stored in bot.sms_messages
    HTTP = "http"
