"""A fake SMS gateway over real HTTP, for the HttpSmsGateway tests.

It behaves like a well-mannered real one: Bearer token required, deduplication by
`Idempotency-Key` (a repeated key gets the first message's id and sends nothing new), JSON
errors. Tests can make it fail with 5xx a number of times, reject messages with 4xx, or
answer slowly (the message is accepted before the delay: a lost response, not a lost SMS).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PATH = "/v1/messages"


@dataclass(frozen=True)
class RecordedRequest:
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class DeliveredSms:
    id: str
    to: str
    text: str


@dataclass
class FakeSmsGateway:
    token: str
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    delivered: dict[str, DeliveredSms] = field(default_factory=dict)
    delay_s: float = 0.0
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _rejection: tuple[int, str] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, times: int, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` before looking at them."""
        self._failures.extend([(status, retry_after)] * times)

    def reject(self, status: int = 400, message: str = "invalid message") -> None:
        """Refuse every message from now on with `status` and `message`."""
        self._rejection = (status, message)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.requests.append(RecordedRequest(dict(request.headers), body))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if self._failures:
            status, retry_after = self._failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else None
            return web.json_response(
                {"error": "temporarily unavailable"}, status=status, headers=headers
            )
        if self._rejection is not None:
            status, message = self._rejection
            return web.json_response({"message": message}, status=status)
        key = request.headers.get("Idempotency-Key")
        if not key or not isinstance(body, dict) or not {"to", "text"} <= body.keys():
            return web.json_response({"message": "to, text and Idempotency-Key needed"}, status=422)
        sms = self.delivered.get(key)
        if sms is None:
            sms = DeliveredSms(f"msg-{next(self._ids)}", body["to"], body["text"])
            self.delivered[key] = sms
            status = 201
        else:
            status = 200
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.json_response({"id": sms.id, "status": "accepted"}, status=status)


@asynccontextmanager
async def fake_sms_gateway(token: str = "sms-test-token") -> AsyncIterator[FakeSmsGateway]:
    gateway = FakeSmsGateway(token)
    app = web.Application()
    app.router.add_post(PATH, gateway.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Bound here and handed over, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    gateway.url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    try:
        yield gateway
    finally:
        await runner.cleanup()
