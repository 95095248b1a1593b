"""What every handler needs, kept on the aiohttp application."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web

from core.settings import StoreApiMode
from store_api.contract import STORE_TZ
from store_api.server.faults import FaultConfig, FaultInjector
from store_api.server.ratelimit import TokenBucket


@dataclass
class ServerState:
    pool: asyncpg.Pool
    token: str
    mode: StoreApiMode
    faults: FaultInjector
    limiter: TokenBucket
    # Keys the rate limiter and stored idempotency keys; computed once, not per request.
    token_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.token_hash = hashlib.sha256(self.token.encode()).hexdigest()

    @property
    def admin_enabled(self) -> bool:
        return self.mode is not StoreApiMode.PROD

    @staticmethod
    def today() -> dt.date:
        return dt.datetime.now(STORE_TZ).date()

    @classmethod
    def create(
        cls,
        pool: asyncpg.Pool,
        token: str,
        mode: StoreApiMode,
        faults: FaultConfig,
        rate_limit_rps: float,
    ) -> ServerState:
        return cls(
            pool=pool,
            token=token,
            mode=mode,
            faults=FaultInjector(faults),
            limiter=TokenBucket(rate=rate_limit_rps, burst=max(1.0, rate_limit_rps * 2)),
        )


STATE = web.AppKey("state", ServerState)


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]
