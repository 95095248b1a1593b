"""Reading requests strictly: bodies against the contract models, query parameters by type."""

from __future__ import annotations

import re
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from store_api.contract import (
    INBOUND,
    MAX_BODY_BYTES,
    ONE_LINE_CONTROLS,
    ONE_LINE_PROBLEM,
    ErrorCode,
)
from store_api.server.errors import ApiError, validation_error

M = TypeVar("M", bound=BaseModel)
# Every query parameter is one line of text: the same rule as the bodies' one-line fields.
_CONTROL = re.compile(f"[{ONE_LINE_CONTROLS}]")


async def read_body(request: web.Request) -> bytes:
    """The raw body, at most MAX_BODY_BYTES; JSON only."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    try:
        async for chunk in request.content.iter_chunked(16 * 1024):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _too_large()
    except web.RequestPayloadError:
        # Broken chunked framing or Content-Encoding: the client's bytes, not our failure.
        # The exception's text is not passed on: it may quote the body.
        raise ApiError(
            ErrorCode.MALFORMED_REQUEST,
            "The request body could not be read (broken chunked framing or content encoding).",
        ) from None
    except ConnectionResetError:
        # The client left mid-body; without this it would pass for a database outage (503).
        raise ApiError(
            ErrorCode.MALFORMED_REQUEST, "The connection closed before the whole body arrived."
        ) from None
    if body and request.content_type not in ("application/json", "application/octet-stream"):
        # aiohttp reports a missing Content-Type as application/octet-stream: accept that.
        raise ApiError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Send the body as application/json, not {request.content_type}.",
        )
    return bytes(body)


def parse_body(body: bytes, model: type[M]) -> M:
    if not body.strip():
        raise ApiError(ErrorCode.MALFORMED_REQUEST, "The request needs a JSON body.")
    try:
        return model.model_validate_json(body, context=INBOUND)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _too_large() -> ApiError:
    return ApiError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        {"max_bytes": MAX_BODY_BYTES},
    )


def _invalid_param(name: str, problem: str) -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_ERROR,
        f"Invalid query parameter {name}: {problem}",
        {"errors": [{"field": name, "problem": problem}]},
    )


def query_str(
    request: web.Request,
    name: str,
    *,
    required: bool = False,
    min_length: int = 0,
    max_length: int = 200,
) -> str | None:
    raw = request.query.get(name)
    if raw is not None and _CONTROL.search(raw):
        raise _invalid_param(name, ONE_LINE_PROBLEM)
    if raw is None or raw.strip() == "":
        if required or (raw is not None and min_length > 0):
            raise _invalid_param(name, "is required" if raw is None else "must not be empty")
        return None
    value = raw.strip()
    if len(value) < min_length:
        raise _invalid_param(name, f"must be at least {min_length} characters")
    if len(value) > max_length:
        raise _invalid_param(name, f"must be at most {max_length} characters")
    return value


def query_int(
    request: web.Request, name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise _invalid_param(name, "must be an integer") from None
    if not number.is_integer():
        raise _invalid_param(name, "must be an integer")
    value = int(number)
    if not minimum <= value <= maximum:
        raise _invalid_param(name, f"must be between {minimum} and {maximum}")
    return value


def path_uuid(request: web.Request, name: str, not_found: ApiError) -> uuid.UUID:
    """Ids are UUIDs; anything else cannot exist, so it is a 404 like an unknown id."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise not_found from None


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=model.model_dump_json().encode(), content_type="application/json"
    )
