"""Airtable's per-base rate limit: at most N requests in any one-second window (Airtable: 5).

A sliding window per base: the times of the requests let through in the last second. A request
over the limit is refused (and not counted), with the seconds until the window has room again,
which the app sends as ``Retry-After`` on its 429.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

WINDOW_SECONDS = 1.0


class RateLimiter:
    """Used from the event loop only (an async dependency), so it needs no lock."""

    def __init__(self, per_second: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    def acquire(self, key: str) -> int | None:
        """None when the request may go on, else the whole seconds to wait (at least 1)."""
        if self.per_second <= 0:
            return None
        now = self._clock()
        recent = self._recent[key]
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= self.per_second:
            return max(1, math.ceil(recent[0] + WINDOW_SECONDS - now))
        recent.append(now)
        return None
