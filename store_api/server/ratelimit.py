"""A per-token token bucket. Off (rate 0) by default; returns 429 with Retry-After."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # requests per second; 0 disables the limit
    burst: float
    _level: dict[str, float] = field(default_factory=dict)
    _stamp: dict[str, float] = field(default_factory=dict)

    def acquire(self, who: str) -> float | None:
        """None when allowed; otherwise the seconds to wait before trying again."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        level = min(
            self.burst,
            self._level.get(who, self.burst) + (now - self._stamp.get(who, now)) * self.rate,
        )
        self._stamp[who] = now
        if level >= 1:
            self._level[who] = level - 1
            return None
        self._level[who] = level
        return math.ceil((1 - level) / self.rate)
