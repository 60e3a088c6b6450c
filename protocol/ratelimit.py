"""Token buckets keyed by caller (an API token's digest, or an address): the HTTP rate limit.

Pure: the caller passes the time (a monotonic clock in seconds). Memory is bounded: past
`max_keys` callers, the least recently seen one is forgotten (it comes back with a full bucket).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """`per_second` sustained requests, in bursts of up to `burst`."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")


class TokenBuckets:
    def __init__(self, limit: RateLimit, max_keys: int = 10_000) -> None:
        self.limit = limit
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float:
        """Spend one request for `key`: 0.0 if allowed, else the seconds until one is allowed."""
        tokens, at = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + max(now - at, 0.0) * self.limit.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.limit.per_second
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
