"""Fault injection for tests and demos (dev/test mode only): latency, errors, crash-before-commit.

Faults apply to the public endpoints only — never to /health, /openapi.json or /admin — so a
test can always switch them off again.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from store_api.contract import ErrorCode, RequestModel
from store_api.server.errors import ApiError


class FaultConfig(RequestModel):
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    # fnmatch pattern on the path after /api/v1 ("/orders*"); None: every public endpoint.
    path_glob: Annotated[str, Field(max_length=200)] | None = None
    # Fail idempotent requests after their effect, just before commit: proves the effect and
    # the stored key are one transaction.
    fail_before_commit: bool = False


@dataclass
class FaultInjector:
    config: FaultConfig

    def applies_to(self, api_path: str) -> bool:
        return self.config.path_glob is None or fnmatch.fnmatchcase(api_path, self.config.path_glob)

    async def before_request(self, api_path: str) -> None:
        if not self.applies_to(api_path):
            return
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self.config.error_rate and random.random() < self.config.error_rate:
            raise ApiError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "Injected fault: the Store API is unavailable.",
                {"injected": True},
            )

    def before_commit(self, api_path: str) -> None:
        if self.config.fail_before_commit and self.applies_to(api_path):
            raise ApiError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "Injected fault: failed just before commit; nothing was saved.",
                {"injected": True},
            )
