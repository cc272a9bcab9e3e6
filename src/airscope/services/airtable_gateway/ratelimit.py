"""The client-side per-base limiter: bursts queue here instead of earning 429s from Airtable.

Airtable allows 5 requests per second per base and counts them in a sliding one-second window
(the stand-in does the same). A bucket refilled continuously at 5/s with a burst of 5 would let
up to 9 requests into one second; so this is a token bucket whose tokens come back one window
after they were spent: at most ``limit`` requests leave in any window, the first ``limit`` of a
burst at once (burst = limit), the rest as earlier tokens return.

Each caller books the time its token is due: the booking (one comparison and an append) runs
without an ``await``, so concurrent tasks on one event loop cannot take the same token, and
callers that must wait sleep until their booked time, in the order they booked. A caller cancelled
while it waits keeps its booking, which only makes the limiter stricter.

It limits one process; several replicas share Airtable's limit, which the 429 retries then absorb.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

# Airtable counts a request when it arrives; ours are spaced by when they leave. The margin
# absorbs the difference in transit time between two requests a window apart.
WINDOW_SECONDS = 1.05


class TokenWindow:
    """``limit`` tokens for one key; a token spent at time t is usable again at t + ``window``."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a token window needs limit >= 1 and window > 0")
        self.window = window
        self._clock = clock
        # When each of the last `limit` tokens was (or will be) spent; never decreasing.
        self._spent: deque[float] = deque(maxlen=limit)

    def reserve(self) -> float:
        """Takes a token now or books the next one due; returns the seconds until it may be used."""
        now = self._clock()
        due = now
        if len(self._spent) == self._spent.maxlen:
            due = max(now, self._spent[0] + self.window)
        self._spent.append(due)
        return due - now

    def is_idle(self) -> bool:
        """Every token is back: the same as a new one."""
        return not self._spent or self._spent[-1] + self.window <= self._clock()


class RateLimiter:
    """One token window per key (an Airtable base id, or ``meta`` for the bases list).

    Idle windows are dropped once there are many keys: base ids come from callers, and the map must
    not grow with every id ever asked for.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_keys: int = 1000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._max_keys = max_keys
        self._windows: dict[str, TokenWindow] = {}

    def __len__(self) -> int:
        return len(self._windows)

    async def acquire(self, key: str) -> float:
        """Waits until ``key`` may send one request; returns how long that took in seconds."""
        tokens = self._windows.get(key)
        if tokens is None:
            if len(self._windows) >= self._max_keys:
                self._windows = {k: w for k, w in self._windows.items() if not w.is_idle()}
            tokens = self._windows[key] = TokenWindow(self.limit, self.window, clock=self._clock)
        wait = tokens.reserve()
        if wait > 0:
            await self._sleep(wait)
        return wait
