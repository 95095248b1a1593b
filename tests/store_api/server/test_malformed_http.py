"""Requests that are not valid HTTP get the JSON error shape, and nothing of them is echoed
or logged: a control character in Authorization must not put the token in the reply or the
server's log. Sent over a raw socket, since HTTP clients refuse to send such requests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import TEST_STORE_TOKEN, StoreApiServer, store_api_server


@dataclass
class LoggedServer:
    server: StoreApiServer
    log: Path

    @property
    def port(self) -> int:
        return int(self.server.base_url.split(":")[2].split("/")[0])

    def wait_logged(self, request_id: str) -> str:
        """The server's log once it has a line for `request_id`; no line of it a traceback."""
        deadline = time.monotonic() + 5
        while True:
            text = self.log.read_text(errors="replace")
            if request_id in text:
                mine = [line for line in text.splitlines() if request_id in line]
                assert not [line for line in mine if "Traceback" in line], mine
                return text
            assert time.monotonic() < deadline, f"no log line for {request_id}:\n{text[-3000:]}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
async def logged(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LoggedServer]:
    """A Store API process of its own whose output goes to a file the tests read."""
    log = tmp_path_factory.mktemp("store-api-log") / "server.log"
    async with store_api_server(database_url, log=log) as server:
        yield LoggedServer(server, log)


@dataclass
class RawResponse:
    raw: bytes
    status: int
    headers: dict[str, str]
    body: Any


async def send_raw(port: int, request: bytes) -> RawResponse:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)  # every case closes the connection
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(raw, int(status_line.split()[1]), headers, json.loads(body))


def request_bytes(
    method: str, path: str, headers: list[tuple[str, bytes]], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + value for name, value in headers]
    lines += [b"Connection: close", b"Content-Type: application/json"]
    lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass(frozen=True)
class HeaderCase:
    id: str
    header: str
    value: bytes  # SECRET is replaced by a marker unique to the run
    status: int
    code: str


HEADER_CASES = [
    # Refused by aiohttp's parser, before any middleware runs.
    HeaderCase(
        "authorization-soh", "Authorization", b"Bearer SECRET\x01x", 400, "MALFORMED_REQUEST"
    ),
    HeaderCase(
        "authorization-nul", "Authorization", b"Bearer SECRET\x00", 400, "MALFORMED_REQUEST"
    ),
    HeaderCase(
        "authorization-del", "Authorization", b"Bearer SE\x7fCRET", 400, "MALFORMED_REQUEST"
    ),
    HeaderCase("authorization-esc", "Authorization", b"\x1b[0mSECRET", 400, "MALFORMED_REQUEST"),
    HeaderCase("key-soh", "Idempotency-Key", b"SECRET\x01", 400, "MALFORMED_REQUEST"),
    HeaderCase("key-nul", "Idempotency-Key", b"\x00SECRET", 400, "MALFORMED_REQUEST"),
    # Let through by the parser (HTTP allows tab and obs-text): the application decides.
    HeaderCase("authorization-tab", "Authorization", b"Bearer SECRET\tx", 401, "UNAUTHORIZED"),
    HeaderCase("authorization-latin1", "Authorization", b"Bearer SECRET\xe9", 401, "UNAUTHORIZED"),
    HeaderCase("key-tab", "Idempotency-Key", b"SECRET\tx", 400, "IDEMPOTENCY_KEY_INVALID"),
]


@pytest.mark.parametrize("case", HEADER_CASES, ids=lambda c: c.id)
async def test_header_with_control_characters_is_neither_echoed_nor_logged(
    logged: LoggedServer, case: HeaderCase
) -> None:
    secret = f"tok{uuid.uuid4().hex}".encode()
    headers = [
        ("Authorization", b"Bearer " + TEST_STORE_TOKEN.encode()),
        ("Idempotency-Key", b"k-" + secret[:8]),
    ]
    headers = [(n, v) for n, v in headers if n != case.header]
    headers.append((case.header, case.value.replace(b"SECRET", secret)))
    body = b'{"customer": {"phone": "+79990000000"}, "items": []}'
    response = await send_raw(logged.port, request_bytes("POST", "/api/v1/orders", headers, body))

    assert response.status == case.status, response.raw
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.body) == {"error"}
    assert response.body["error"]["code"] == case.code
    assert {"message", "details"} <= set(response.body["error"])
    assert secret not in response.raw
    log = logged.wait_logged(response.headers["x-request-id"])
    assert secret.decode() not in log


async def test_request_line_with_a_control_character(logged: LoggedServer) -> None:
    secret = f"tok{uuid.uuid4().hex}"
    request = f"GET /api/v1/health?token={secret}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    response = await send_raw(logged.port, request)
    assert response.status == 400 and response.body["error"]["code"] == "MALFORMED_REQUEST"
    assert secret.encode() not in response.raw
    assert secret not in logged.wait_logged(response.headers["x-request-id"])


async def test_parser_errors_are_logged_by_kind(logged: LoggedServer) -> None:
    request = request_bytes("GET", "/api/v1/health", [("Authorization", b"Bearer a\x01b")])
    response = await send_raw(logged.port, request)
    log = logged.wait_logged(response.headers["x-request-id"])
    line = next(line for line in log.splitlines() if response.headers["x-request-id"] in line)
    record = json.loads(line)
    assert record["event"] == "malformed http request"
    assert record["problem"] == "BadHttpMessage" and record["status"] == 400


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        ("Content-Encoding: gzip", b"SECRET-not-gzip"),
        ("Transfer-Encoding: chunked", b"5\r\n{SECR\r\nzz SECRET\r\n0\r\n\r\n"),
    ],
    ids=["bad-gzip", "bad-chunk-size"],
)
async def test_unreadable_body_is_a_400(logged: LoggedServer, framing: str, body: bytes) -> None:
    secret = f"tok{uuid.uuid4().hex}".encode()
    body = body.replace(b"SECRET", secret)
    lines = [
        b"POST /api/v1/orders HTTP/1.1",
        b"Host: x",
        b"Authorization: Bearer " + TEST_STORE_TOKEN.encode(),
        b"Idempotency-Key: k-" + secret[:10],
        b"Content-Type: application/json",
        b"Connection: close",
        framing.encode(),
    ]
    if "chunked" not in framing:
        lines.append(f"Content-Length: {len(body)}".encode())
    response = await send_raw(logged.port, b"\r\n".join(lines) + b"\r\n\r\n" + body)
    assert response.status == 400, response.raw
    assert response.body["error"]["code"] == "MALFORMED_REQUEST"
    assert secret not in response.raw
    log = logged.wait_logged(response.headers["x-request-id"])
    assert secret.decode() not in log
