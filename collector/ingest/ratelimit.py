"""Per (write key, client address) token bucket counting events, not requests."""

from __future__ import annotations

import math
import threading
import time


class RateLimited(Exception):
    """Too many events per second for this write key and client address."""

    def __init__(self, limit: float, retry_after_ms: int | None = None) -> None:
        super().__init__(f"rate limit exceeded: at most {limit:g} events/s per write key "
                         "and client address; retry later")
        self.limit = limit
        self.retry_after_ms = retry_after_ms  # until the bucket holds the batch (or is full)
        self.batch_id: object = None


class EventRateLimiter:
    """Allows ``rate`` events/s with bursts of one second's worth; ``rate`` 0 turns it off."""

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, str], tuple[float, float]] = {}

    def take(self, site_id: int, address: str | None, count: int) -> None:
        """Take ``count`` tokens or raise :class:`RateLimited` (taking none)."""
        if self.rate <= 0 or address is None:
            return
        now = time.monotonic()
        key = (site_id, address)
        with self._lock:
            tokens, last = self._buckets.get(key, (self.rate, now))
            tokens = min(self.rate, tokens + (now - last) * self.rate)
            # A batch larger than the burst is allowed once the bucket is full.
            if count > tokens and tokens < self.rate:
                self._buckets[key] = (tokens, now)
                wait = (min(count, self.rate) - tokens) / self.rate
                raise RateLimited(self.rate, max(1, math.ceil(wait * 1000)))
            self._buckets[key] = (tokens - count, now)
            if len(self._buckets) > 100_000:
                self._evict(now)

    def _evict(self, now: float) -> None:
        full_after = 1.0
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
