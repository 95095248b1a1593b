"""Request id and logging, errors in one shape, bearer auth, rate limit, fault injection."""

from __future__ import annotations

import hmac
import re
import time
import uuid

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from store_api.contract import API_PREFIX, REQUEST_ID_HEADER, ErrorCode
from store_api.server.errors import ApiError
from store_api.server.state import state_of

log = structlog.get_logger("store_api")

PUBLIC_PATHS = {f"{API_PREFIX}/health", f"{API_PREFIX}/openapi.json"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_HTTP_CODES = {
    400: ErrorCode.MALFORMED_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: every response carries X-Request-Id; every failure becomes an error body."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    try:
        response = await _render_errors(request, handler)
        response.headers[REQUEST_ID_HEADER] = request_id
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


async def _render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, ErrorCode.MALFORMED_REQUEST)
        message = "Not found." if exc.status == 404 else exc.reason
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
        return ApiError(code, message, status=exc.status, headers=kept).response()
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
        log.warning("database unavailable", error=str(exc))
        return ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The store database is unavailable; retry later.",
            headers={"Retry-After": "1"},
        ).response()
    except Exception:
        log.exception("unhandled error")
        return ApiError(ErrorCode.INTERNAL_ERROR, "Internal error; it has been logged.").response()


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Auth, then the rate limit, then injected faults — in that order."""
    if request.path in PUBLIC_PATHS or not request.path.startswith(API_PREFIX):
        return await handler(request)
    state = state_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # aiohttp decodes header bytes that are not UTF-8 as surrogates: compare the bytes sent.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode("utf-8", "surrogateescape"), state.token.encode()
    ):
        raise ApiError(
            ErrorCode.UNAUTHORIZED,
            "Send Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="store-api"'},
        )
    wait = state.limiter.acquire(state.token_hash)
    if wait is not None:
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            "Too many requests; slow down.",
            {"retry_after_s": wait},
            headers={"Retry-After": str(wait)},
        )
    api_path = request.path.removeprefix(API_PREFIX)
    if not api_path.startswith("/admin"):
        await state.faults.before_request(api_path)
    return await handler(request)
