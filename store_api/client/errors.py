"""Typed Store API errors: one class per family, a subclass where a caller branches on it.

Every `ErrorCode` of the contract maps to a class (see `_BY_CODE`); a code this client does
not know yet maps by HTTP status, so a newer server never surfaces as an untyped error.
`retryable` answers one question: may the *same* request succeed later without changing it?
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import Any, ClassVar

from store_api.client.masking import mask_phones_in
from store_api.contract import ErrorCode, ErrorResponse

# Codes of failures the client detects itself, with no (trustworthy) response to read.
TIMEOUT = "TIMEOUT"
CONNECTION_ERROR = "CONNECTION_ERROR"
CIRCUIT_OPEN = "CIRCUIT_OPEN"
INVALID_RESPONSE = "INVALID_RESPONSE"


class StoreApiError(Exception):
    """A Store API call failed. `code` is the server's stable code or one of the client's own."""

    retryable: ClassVar[bool] = False
    default_code: ClassVar[str] = "STORE_API_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        replayed: bool = False,
    ) -> None:
        # Server messages may quote what we sent (a phone number among them); exceptions end
        # up in logs and in the Temporal UI, so they carry masked text only.
        self.message = mask_phones_in(message)
        self.code = code or self.default_code
        self.status = status
        self.details: Mapping[str, Any] = details or {}
        self.request_id = request_id
        self.retry_after = retry_after
        self.replayed = replayed
        super().__init__(self.message)

    @property
    def error_code(self) -> ErrorCode | None:
        """The contract's code, or None for client-side and unknown codes."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no response"
        text = f"{self.code} ({where}): {self.message}"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


# --- the request itself is wrong: a bug on our side, never retried ------------------------


class StoreBadRequest(StoreApiError):
    """400/405/413/415: the request is malformed whatever the state of the store."""

    default_code = ErrorCode.MALFORMED_REQUEST.value


class IdempotencyKeyRequired(StoreBadRequest):
    default_code = ErrorCode.IDEMPOTENCY_KEY_REQUIRED.value


class IdempotencyKeyInvalid(StoreBadRequest):
    default_code = ErrorCode.IDEMPOTENCY_KEY_INVALID.value


class SearchCriteriaRequired(StoreBadRequest):
    default_code = ErrorCode.SEARCH_CRITERIA_REQUIRED.value


class StoreAuthError(StoreApiError):
    """401: missing or wrong token — a configuration problem, not something to retry."""

    default_code = ErrorCode.UNAUTHORIZED.value


# --- not found --------------------------------------------------------------------------


class StoreNotFound(StoreApiError):
    default_code = ErrorCode.NOT_FOUND.value


class ProductNotFound(StoreNotFound):
    """Also sent as 422 by POST /orders for an unknown product in the item list."""

    default_code = ErrorCode.PRODUCT_NOT_FOUND.value


class CustomerNotFound(StoreNotFound):
    default_code = ErrorCode.CUSTOMER_NOT_FOUND.value


class OrderNotFound(StoreNotFound):
    default_code = ErrorCode.ORDER_NOT_FOUND.value


# --- state conflicts ----------------------------------------------------------------------


class StoreConflict(StoreApiError):
    """409: the request is valid but the order or stock is not in a state that allows it."""

    default_code = "CONFLICT"


class OutOfStock(StoreConflict):
    default_code = ErrorCode.OUT_OF_STOCK.value

    @property
    def available(self) -> int | None:
        """How many units are left (from `details.available`), when the server says."""
        return _int_detail(self.details, "available")

    @property
    def product_id(self) -> str | None:
        value = self.details.get("product_id")
        return value if isinstance(value, str) else None


class TotalMismatch(StoreConflict):
    default_code = ErrorCode.TOTAL_MISMATCH.value

    @property
    def new_total(self) -> int | None:
        """The order's current total in kopecks: what the caller must hear before confirming."""
        return _int_detail(self.details, "total")

    @property
    def expected_total(self) -> int | None:
        return _int_detail(self.details, "expected_total")


class OrderNotEditable(StoreConflict):
    default_code = ErrorCode.ORDER_NOT_EDITABLE.value


class OrderNotCancellable(StoreConflict):
    default_code = ErrorCode.ORDER_NOT_CANCELLABLE.value


class DeliveryRequired(StoreConflict):
    default_code = ErrorCode.DELIVERY_REQUIRED.value


class IdempotencyKeyInProgress(StoreConflict):
    """The first request with this key is still running: the same request will resolve."""

    retryable = True
    default_code = ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS.value


# --- validation --------------------------------------------------------------------------


class StoreValidationError(StoreApiError):
    """422: the request is well-formed but its content is not acceptable."""

    default_code = ErrorCode.VALIDATION_ERROR.value


class InvalidPhone(StoreValidationError):
    default_code = ErrorCode.INVALID_PHONE.value


class DeliveryUnavailable(StoreValidationError):
    default_code = ErrorCode.DELIVERY_UNAVAILABLE.value

    @property
    def reason(self) -> str | None:
        value = self.details.get("reason")
        return value if isinstance(value, str) else None


class PickupPointNotFound(StoreValidationError):
    default_code = ErrorCode.PICKUP_POINT_NOT_FOUND.value


class IdempotencyKeyReused(StoreValidationError):
    """The key was already used with another body: a bug in how the caller derives keys."""

    default_code = ErrorCode.IDEMPOTENCY_KEY_REUSED.value


# --- transient ------------------------------------------------------------------------------


class StoreRateLimited(StoreApiError):
    """429: come back after `retry_after` seconds (None when the server did not say)."""

    retryable = True
    default_code = ErrorCode.RATE_LIMITED.value


class StoreUnavailable(StoreApiError):
    """The Store API did not answer usefully: 5xx, timeout, connection failure or open breaker.

    After a timeout on a write the outcome is unknown; repeating the request with the same
    Idempotency-Key resolves it either way.
    """

    retryable = True
    default_code = ErrorCode.SERVICE_UNAVAILABLE.value
    breaker_open: ClassVar[bool] = False


class StoreTimeout(StoreUnavailable):
    default_code = TIMEOUT


class StoreConnectionError(StoreUnavailable):
    default_code = CONNECTION_ERROR


class StoreBreakerOpen(StoreUnavailable):
    """Failed fast without a request: the circuit breaker for this Store API is open."""

    default_code = CIRCUIT_OPEN
    breaker_open = True


class StoreProtocolError(StoreApiError):
    """The response does not follow the contract (body shape, content type): a server bug."""

    default_code = INVALID_RESPONSE


_BY_CODE: dict[ErrorCode, type[StoreApiError]] = {
    ErrorCode.MALFORMED_REQUEST: StoreBadRequest,
    ErrorCode.IDEMPOTENCY_KEY_REQUIRED: IdempotencyKeyRequired,
    ErrorCode.IDEMPOTENCY_KEY_INVALID: IdempotencyKeyInvalid,
    ErrorCode.SEARCH_CRITERIA_REQUIRED: SearchCriteriaRequired,
    ErrorCode.UNAUTHORIZED: StoreAuthError,
    ErrorCode.NOT_FOUND: StoreNotFound,
    ErrorCode.PRODUCT_NOT_FOUND: ProductNotFound,
    ErrorCode.CUSTOMER_NOT_FOUND: CustomerNotFound,
    ErrorCode.ORDER_NOT_FOUND: OrderNotFound,
    ErrorCode.METHOD_NOT_ALLOWED: StoreBadRequest,
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: IdempotencyKeyInProgress,
    ErrorCode.OUT_OF_STOCK: OutOfStock,
    ErrorCode.ORDER_NOT_EDITABLE: OrderNotEditable,
    ErrorCode.ORDER_NOT_CANCELLABLE: OrderNotCancellable,
    ErrorCode.DELIVERY_REQUIRED: DeliveryRequired,
    ErrorCode.TOTAL_MISMATCH: TotalMismatch,
    ErrorCode.PAYLOAD_TOO_LARGE: StoreBadRequest,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: StoreBadRequest,
    ErrorCode.VALIDATION_ERROR: StoreValidationError,
    ErrorCode.INVALID_PHONE: InvalidPhone,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReused,
    ErrorCode.DELIVERY_UNAVAILABLE: DeliveryUnavailable,
    ErrorCode.PICKUP_POINT_NOT_FOUND: PickupPointNotFound,
    ErrorCode.RATE_LIMITED: StoreRateLimited,
    ErrorCode.INTERNAL_ERROR: StoreUnavailable,
    ErrorCode.SERVICE_UNAVAILABLE: StoreUnavailable,
}


def error_class_for(code: str | None, status: int) -> type[StoreApiError]:
    """The class for a server code; an unknown (or missing) code falls back on the status."""
    if code is not None:
        try:
            return _BY_CODE[ErrorCode(code)]
        except ValueError:
            pass
    if status >= 500:
        return StoreUnavailable
    by_status: dict[int, type[StoreApiError]] = {
        400: StoreBadRequest,
        401: StoreAuthError,
        403: StoreAuthError,
        404: StoreNotFound,
        405: StoreBadRequest,
        409: StoreConflict,
        413: StoreBadRequest,
        415: StoreBadRequest,
        422: StoreValidationError,
        429: StoreRateLimited,
    }
    return by_status.get(status, StoreApiError)


def error_from_response(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
) -> StoreApiError:
    """Build the typed error for a non-2xx response, whatever its body looks like."""
    retry_after = parse_retry_after(headers.get("retry-after"))
    replayed = headers.get("idempotent-replayed", "").lower() == "true"
    request_id = headers.get("x-request-id") or request_id
    try:
        body = ErrorResponse.model_validate_json(content).error
    except ValueError:  # pydantic's ValidationError is a ValueError
        # Not our envelope (a proxy's HTML 502, an empty 503): keep the status, say so.
        cls = error_class_for(None, status)
        snippet = content[:200].decode("utf-8", "replace").strip()
        message = f"HTTP {status} without a Store API error body" + (
            f": {snippet!r}" if snippet else ""
        )
        return cls(
            message,
            code=f"HTTP_{status}",
            status=status,
            request_id=request_id,
            retry_after=retry_after,
            replayed=replayed,
        )
    cls = error_class_for(body.code, status)
    return cls(
        body.message,
        code=body.code,
        status=status,
        details=body.details,
        request_id=request_id,
        retry_after=retry_after,
        replayed=replayed,
    )


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _int_detail(details: Mapping[str, Any], key: str) -> int | None:
    value = details.get(key)
    # bool is an int in Python, but never a quantity or an amount.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = [
    "CIRCUIT_OPEN",
    "CONNECTION_ERROR",
    "INVALID_RESPONSE",
    "TIMEOUT",
    "CustomerNotFound",
    "DeliveryRequired",
    "DeliveryUnavailable",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyRequired",
    "IdempotencyKeyReused",
    "InvalidPhone",
    "OrderNotCancellable",
    "OrderNotEditable",
    "OrderNotFound",
    "OutOfStock",
    "PickupPointNotFound",
    "ProductNotFound",
    "SearchCriteriaRequired",
    "StoreApiError",
    "StoreAuthError",
    "StoreBadRequest",
    "StoreBreakerOpen",
    "StoreConflict",
    "StoreConnectionError",
    "StoreNotFound",
    "StoreProtocolError",
    "StoreRateLimited",
    "StoreTimeout",
    "StoreUnavailable",
    "StoreValidationError",
    "TotalMismatch",
    "error_class_for",
    "error_from_response",
    "parse_retry_after",
]
