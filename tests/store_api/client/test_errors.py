"""Error mapping: every contract code gets a typed, readable, correctly retryable error."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from store_api.client import errors as e
from store_api.contract import ErrorCode

FAMILY_BY_STATUS: dict[int, type[e.StoreApiError]] = {
    400: e.StoreBadRequest,
    401: e.StoreAuthError,
    404: e.StoreNotFound,
    405: e.StoreBadRequest,
    409: e.StoreConflict,
    413: e.StoreBadRequest,
    415: e.StoreBadRequest,
    422: e.StoreValidationError,
    429: e.StoreRateLimited,
    500: e.StoreUnavailable,
    503: e.StoreUnavailable,
}
RETRYABLE = {
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
    ErrorCode.RATE_LIMITED,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.SERVICE_UNAVAILABLE,
}


def body(code: str, message: str = "something happened", **details: object) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_contract_code_maps_to_its_family(code: ErrorCode) -> None:
    error = e.error_from_response(code.http_status, body(code.value), {}, request_id="r-1")

    assert isinstance(error, FAMILY_BY_STATUS[code.http_status])
    assert error.code == code.value
    assert error.error_code is code
    assert error.status == code.http_status
    assert error.retryable is (code in RETRYABLE)
    assert error.request_id == "r-1"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (ErrorCode.ORDER_NOT_FOUND, e.OrderNotFound),
        (ErrorCode.PRODUCT_NOT_FOUND, e.ProductNotFound),
        (ErrorCode.CUSTOMER_NOT_FOUND, e.CustomerNotFound),
        (ErrorCode.OUT_OF_STOCK, e.OutOfStock),
        (ErrorCode.TOTAL_MISMATCH, e.TotalMismatch),
        (ErrorCode.ORDER_NOT_EDITABLE, e.OrderNotEditable),
        (ErrorCode.ORDER_NOT_CANCELLABLE, e.OrderNotCancellable),
        (ErrorCode.DELIVERY_REQUIRED, e.DeliveryRequired),
        (ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS, e.IdempotencyKeyInProgress),
        (ErrorCode.INVALID_PHONE, e.InvalidPhone),
        (ErrorCode.DELIVERY_UNAVAILABLE, e.DeliveryUnavailable),
        (ErrorCode.PICKUP_POINT_NOT_FOUND, e.PickupPointNotFound),
        (ErrorCode.IDEMPOTENCY_KEY_REUSED, e.IdempotencyKeyReused),
        (ErrorCode.IDEMPOTENCY_KEY_REQUIRED, e.IdempotencyKeyRequired),
        (ErrorCode.SEARCH_CRITERIA_REQUIRED, e.SearchCriteriaRequired),
    ],
)
def test_codes_a_caller_branches_on_have_their_own_class(
    code: ErrorCode, cls: type[e.StoreApiError]
) -> None:
    assert (
        type(e.error_from_response(code.http_status, body(code.value), {}, request_id=None)) is cls
    )


def test_product_not_found_keeps_its_class_when_sent_as_422() -> None:
    error = e.error_from_response(422, body("PRODUCT_NOT_FOUND"), {}, request_id=None)
    assert isinstance(error, e.ProductNotFound)
    assert error.status == 422


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, e.StoreNotFound),
        (409, e.StoreConflict),
        (422, e.StoreValidationError),
        (502, e.StoreUnavailable),
        (418, e.StoreApiError),
    ],
)
def test_unknown_code_maps_by_status(status: int, cls: type[e.StoreApiError]) -> None:
    error = e.error_from_response(status, body("SOMETHING_NEW"), {}, request_id=None)
    assert type(error) is cls
    assert error.code == "SOMETHING_NEW"
    assert error.error_code is None


def test_a_body_that_is_not_the_error_envelope_keeps_the_status() -> None:
    error = e.error_from_response(
        502, b"<html>Bad Gateway</html>", {"x-request-id": "from-server"}, request_id="mine"
    )
    assert type(error) is e.StoreUnavailable
    assert (error.code, error.status) == ("HTTP_502", 502)
    assert error.retryable
    assert "Bad Gateway" in error.message
    assert error.request_id == "from-server"


def test_details_become_typed_attributes() -> None:
    out = e.error_from_response(
        409, body("OUT_OF_STOCK", available=3, product_id="p1"), {}, request_id=None
    )
    assert isinstance(out, e.OutOfStock)
    assert (out.available, out.product_id) == (3, "p1")

    mismatch = e.error_from_response(409, body("TOTAL_MISMATCH", total=259900), {}, request_id=None)
    assert isinstance(mismatch, e.TotalMismatch)
    assert mismatch.new_total == 259900

    # bool is an int in Python; it is never a quantity.
    odd = e.error_from_response(409, body("OUT_OF_STOCK", available=True), {}, request_id=None)
    assert isinstance(odd, e.OutOfStock)
    assert odd.available is None


def test_retry_after_and_replayed_headers_are_read() -> None:
    error = e.error_from_response(
        429,
        body("RATE_LIMITED"),
        {"retry-after": "2", "idempotent-replayed": "true"},
        request_id=None,
    )
    assert isinstance(error, e.StoreRateLimited)
    assert error.retry_after == 2.0
    assert error.replayed


def test_retry_after_as_http_date() -> None:
    now = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.UTC)
    assert e.parse_retry_after("Mon, 30 Nov 2026 12:00:05 GMT", now=now) == 5.0
    assert e.parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert e.parse_retry_after("soon", now=now) is None
    assert e.parse_retry_after(None) is None


def test_message_is_readable_and_carries_no_full_phone_number() -> None:
    error = e.error_from_response(
        422,
        body("INVALID_PHONE", "Not a phone number: +7 (916) 123-45-67"),
        {},
        request_id="req-42",
    )
    text = str(error)
    assert text.startswith("INVALID_PHONE (HTTP 422): Not a phone number: ")
    assert "[request_id=req-42]" in text
    assert "123-45-67" not in text
    assert "4567" in text
    # Order numbers and amounts are not phone numbers and stay readable.
    order = e.error_from_response(
        409, body("ORDER_NOT_EDITABLE", "Order 100245 is confirmed"), {}, request_id=None
    )
    assert "100245" in str(order)


def test_client_side_errors_say_there_was_no_response() -> None:
    timeout = e.StoreTimeout("GET /orders/1: no answer within 5 s", request_id="r")
    assert (
        str(timeout) == "TIMEOUT (no response): GET /orders/1: no answer within 5 s [request_id=r]"
    )
    assert timeout.retryable and not timeout.breaker_open
    opened = e.StoreBreakerOpen("open")
    assert opened.retryable and opened.breaker_open
    assert isinstance(opened, e.StoreUnavailable)
    assert not e.StoreProtocolError("bad body").retryable
