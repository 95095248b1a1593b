"""Requests aiohttp's HTTP parser refuses, answered in the contract's error shape.

A request whose request line or headers are not valid HTTP (a control character in
`Authorization` or `Idempotency-Key`, say) never reaches the application or its middlewares:
aiohttp's `RequestHandler.handle_error` answers it as plain text quoting the offending line,
and logs the parser's exception, whose text quotes it too, so a bearer token ended up in the
reply and in the log. aiohttp offers no hook for these answers (aio-libs/aiohttp#3287), so
the server's connections use a `RequestHandler` whose `handle_error` answers with the JSON
error shape, says what kind of problem it was, and logs no byte of the request.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from store_api.contract import REQUEST_ID_HEADER, ErrorCode
from store_api.server.errors import ApiError

log = structlog.get_logger("store_api")

_MALFORMED = (
    "The request is not valid HTTP: a header holds a character HTTP does not allow "
    "(a control character, say) or the message is framed wrongly. It was not processed."
)


def _message(exc: BaseException | None) -> str:
    """What went wrong, from the exception's type only: its text quotes the request."""
    if isinstance(exc, LineTooLong):
        return "The request line or a header is too long. It was not processed."
    if isinstance(exc, BadStatusLine):
        return "The request line is not valid HTTP. It was not processed."
    return _MALFORMED


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, with its own error answers in the contract's shape."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp does: a response is under way, so the connection is beyond saving.
            raise ConnectionError("response already started; cannot send the error")
        request_id = uuid.uuid4().hex
        problem = type(exc).__name__ if exc is not None else "none"
        if status >= 500:
            # Our failure (the application's middleware catches its own errors, so this is
            # aiohttp's), not the client's bytes: the traceback is what someone needs.
            log.error("http server error", status=status, request_id=request_id, exc_info=exc)
            error = ApiError(ErrorCode.INTERNAL_ERROR, "Internal error; it has been logged.")
        else:
            log.warning(
                "malformed http request",
                status=status,
                problem=problem,
                remote=request.remote,
                request_id=request_id,
            )
            error = ApiError(ErrorCode.MALFORMED_REQUEST, _message(exc), status=status)
        response = error.response()
        response.headers[REQUEST_ID_HEADER] = request_id
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # After a handler refused a body it could not read (400), aiohttp drains the rest and
        # meets the same error again: the client's problem, already answered, whose text may
        # quote the body. Everything else stays aiohttp's to log.
        exc = kw.get("exc_info")
        if isinstance(exc, web.RequestPayloadError):
            log.info("unreadable request body drained", problem=type(exc.__cause__).__name__)
            return
        super().log_exception(*args, **kw)


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class StoreApiRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `JsonErrorRequestHandler`s."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return _JsonErrorServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
