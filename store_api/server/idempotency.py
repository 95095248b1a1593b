"""Idempotency-Key, as in the IETF httpapi draft and Stripe's semantics.

Key + method + path + token identify a request. One transaction does all of it:
  1. take a transaction-scoped advisory lock on the identity, without waiting — if another
     request holds it, the first is still in flight → 409 IDEMPOTENCY_KEY_IN_PROGRESS;
  2. a stored response for the identity → replay it byte for byte (another body → 422);
  3. otherwise run the effect in a savepoint and store its response with the key.
The key and the effect commit together, so a crash can never keep one without the other.
A business error (4xx) rolls back the effect's savepoint but is stored like a success: a
retry with the same key gets the same answer. 5xx and crashes store nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from core.db import DbConn
from store_api.contract import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, ErrorCode
from store_api.server.errors import ApiError
from store_api.server.state import ServerState

RETENTION = "48 hours"  # the contract promises at least 24 h
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: bytes
    content_type: str = "application/json"


Effect = Callable[[DbConn], Awaitable[Outcome]]


def require_key(request: web.Request) -> str:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None or key.strip() == "":
        raise ApiError(
            ErrorCode.IDEMPOTENCY_KEY_REQUIRED,
            f"This request changes data: send an {IDEMPOTENCY_KEY_HEADER} header (e.g. a UUID).",
        )
    if len(key) > MAX_KEY_LENGTH or not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise ApiError(
            ErrorCode.IDEMPOTENCY_KEY_INVALID,
            f"{IDEMPOTENCY_KEY_HEADER} must be 1–{MAX_KEY_LENGTH} printable ASCII characters"
            " without spaces.",
        )
    return key


def request_fingerprint(body: bytes) -> str:
    """The same JSON with other spacing or key order is the same request."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        data = canonical.encode()
    except ValueError:
        data = body
    return hashlib.sha256(data).hexdigest()


def _lock_id(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def run_idempotent(
    state: ServerState, request: web.Request, key: str, body: bytes, effect: Effect
) -> web.Response:
    method, path = request.method, request.path
    fingerprint = request_fingerprint(body)
    identity = (state.token_hash, method, path, key)
    async with state.pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _lock_id(*identity)):
            raise ApiError(
                ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
        stored = await conn.fetchrow(
            f"""SELECT request_hash, status_code, content_type, response_body,
                       created_at > now() - interval '{RETENTION}' AS fresh
                  FROM store.idempotency_keys
                 WHERE token_hash = $1 AND method = $2 AND path = $3 AND key = $4""",
            *identity,
        )
        if stored is not None and stored["fresh"]:
            if stored["request_hash"] != fingerprint:
                raise ApiError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was already used with a different request body.",
                )
            return web.Response(
                status=stored["status_code"],
                body=bytes(stored["response_body"]),
                headers={"Content-Type": stored["content_type"], REPLAYED_HEADER: "true"},
            )
        try:
            async with conn.transaction():
                outcome = await effect(conn)
        except ApiError as exc:
            if exc.status >= 500:
                raise
            outcome = Outcome(exc.status, exc.body())
        state.faults.before_commit(request.path.removeprefix("/api/v1"))
        await conn.execute(
            """INSERT INTO store.idempotency_keys
                   (token_hash, method, path, key, request_hash, status_code, content_type,
                    response_body)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (token_hash, method, path, key) DO UPDATE
                   SET request_hash = EXCLUDED.request_hash,
                       status_code = EXCLUDED.status_code,
                       content_type = EXCLUDED.content_type,
                       response_body = EXCLUDED.response_body,
                       created_at = now()""",
            *identity,
            fingerprint,
            outcome.status,
            outcome.content_type,
            outcome.body,
        )
    return web.Response(
        status=outcome.status, body=outcome.body, headers={"Content-Type": outcome.content_type}
    )


async def purge_expired(pool: asyncpg.Pool) -> int:
    result = await pool.execute(
        f"DELETE FROM store.idempotency_keys WHERE created_at < now() - interval '{RETENTION}'"
    )
    return int(result.split()[-1])
