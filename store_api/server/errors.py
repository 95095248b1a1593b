"""API errors: raised anywhere in a handler, rendered once by the error middleware."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from store_api.contract import ErrorBody, ErrorCode, ErrorResponse


class ApiError(Exception):
    """An error the client sees as `{"error": {"code", "message", "details"}}`."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or code.http_status
        self.headers = headers or {}

    def body(self) -> bytes:
        payload = ErrorResponse(
            error=ErrorBody(code=self.code.value, message=self.message, details=self.details)
        )
        return payload.model_dump_json().encode()

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body(),
            content_type="application/json",
            headers=self.headers,
        )


def validation_error(exc: ValidationError) -> ApiError:
    """Turn pydantic's report into a 400 (not JSON) or 422 (JSON of the wrong shape)."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if any(error["type"] == "json_invalid" for error in errors):
        return ApiError(ErrorCode.MALFORMED_REQUEST, "The request body is not valid JSON.")
    problems = [
        {"field": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
        for error in errors
    ]
    first = problems[0]
    where = first["field"] or "body"
    return ApiError(
        ErrorCode.VALIDATION_ERROR,
        f"Invalid request: {where}: {first['problem']}",
        {"errors": problems},
    )
