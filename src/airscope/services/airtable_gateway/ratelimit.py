"""The client-side per-base limiter: bursts queue here instead of earning 429s from Airtable.

Airtable allows 5 requests per second per base and counts them in a sliding one-second window
(the stand-in does the same). A bucket refilled continuously at 5/s with a burst of 5 would let
up to 9 requests into one second; so this is a token bucket whose tokens come back one window
after they were spent: at most ``limit`` requests leave in any window, the first ``limit`` of a
burst at once (burst = limit), the rest as earlier tokens return.

Each caller books the time its token is due: the booking (one comparison and an append) runs
without an ``await``, so concurrent tasks on one event loop cannot take the same token, and
callers that must wait sleep until their booked time, in the order they booked. A caller cancelled
while it waits keeps its booking, which only makes the limiter stricter. A token counts from when
its caller actually went on, not from its booking: on a busy event loop a caller wakes late, and
the caller whose token comes back one window after it waits for that, so the two never arrive at
Airtable closer than a window apart.

The margin adapts to Airtable's answers. A 429 says our count and Airtable's disagree (another
replica or client spends the same base's budget, or transit times bunched our requests): the base
then sends nothing until the ``Retry-After`` Airtable asked for, and its window widens by half (at
most once per window, so the 429s of one burst are one signal, and to at most 4 windows). Every
other answer narrows it again by 3 %, so about 14 answers undo one widening: the limiter creeps
back to the full rate while Airtable agrees. The window never goes below the configured one, so a
base never gets more than ``limit`` requests per window (5 per 1.05 s), whatever happened before.

It limits one process; several replicas share Airtable's limit, which the adaptive margin and the
429 retries then absorb.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Airtable counts a request when it arrives; ours are spaced by when they leave. The margin
# absorbs the difference in transit time between two requests a window apart.
WINDOW_SECONDS = 1.05
WIDEN = 1.5  # the window after a 429, as a multiple of the one before
NARROW = 0.97  # the window after any other answer, as a multiple of the one before
MAX_WIDENING = 4.0  # the widest window, as a multiple of the configured one


class Paused(Exception):
    """Airtable asked this base to wait longer than a caller may: answer now instead of queueing."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Airtable asked for {seconds:.1f} s of silence on this base")
        self.seconds = seconds


@dataclass
class Token:
    at: float  # when it is due; once its caller went on, when that was


@dataclass
class Booking:
    wait: float  # seconds until the token is due
    token: Token
    returning: Token | None  # the token spent `limit` tokens before: this one is usable a window after it


class TokenWindow:
    """``limit`` tokens for one key; a token spent at time t is usable again at t + ``window``.

    ``window`` widens on a 429 (``rate_limited``) and narrows back to ``floor`` on other answers
    (``answered``); see the module docstring.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a token window needs limit >= 1 and window > 0")
        self.floor = window
        self.window = window
        self._clock = clock
        # The last `limit` tokens spent (or booked), in booking order.
        self._spent: deque[Token] = deque(maxlen=limit)
        self._paused_until = 0.0
        self._widened_at = float("-inf")

    def due(self) -> float:
        """When a token booked now could be used."""
        due = max(self._clock(), self._paused_until)
        if self._spent:
            # Never before the last booking: callers wake in the order they booked, even after the
            # window narrowed.
            due = max(due, self._spent[-1].at)
            if len(self._spent) == self._spent.maxlen:
                due = max(due, self._spent[0].at + self.window)
        return due

    def reserve(self) -> Booking:
        """Takes a token now or books the next one due."""
        returning = self._spent[0] if len(self._spent) == self._spent.maxlen else None
        token = Token(self.due())
        self._spent.append(token)
        return Booking(token.at - self._clock(), token, returning)

    def went(self, booking: Booking) -> float:
        """``booking``'s caller goes on once due: its token counts from then, which is later than due
        when it woke late, or when the token it follows left late (the seconds it must then still
        wait are returned)."""
        start = max(booking.token.at, self._clock())
        at = start if booking.returning is None else max(start, booking.returning.at + self.window)
        booking.token.at = at
        return at - start

    def paused_for(self) -> float:
        """Seconds left of the silence Airtable asked for (0 when none)."""
        return max(0.0, self._paused_until - self._clock())

    def rate_limited(self, retry_after: float) -> None:
        """Airtable answered 429: wait ``retry_after`` seconds, then send with a wider margin."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + retry_after)
        if now >= self._widened_at + self.window:
            self.window = min(self.window * WIDEN, self.floor * MAX_WIDENING)
            self._widened_at = now

    def answered(self) -> None:
        """Airtable answered without a 429: creep back towards the configured window."""
        self.window = max(self.floor, self.window * NARROW)

    def is_idle(self) -> bool:
        """Every token is back and the margin is the configured one: the same as a new one."""
        return self.window == self.floor and (
            not self._spent or max(self._spent[-1].at + self.window, self._paused_until) <= self._clock()
        )


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
        max_pause: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_keys: int = 1000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._max_pause = max_pause
        self._clock = clock
        self._sleep = sleep
        self._max_keys = max_keys
        self._windows: dict[str, TokenWindow] = {}

    def __len__(self) -> int:
        return len(self._windows)

    def _tokens(self, key: str) -> TokenWindow:
        tokens = self._windows.get(key)
        if tokens is None:
            if len(self._windows) >= self._max_keys:
                self._windows = {k: w for k, w in self._windows.items() if not w.is_idle()}
            tokens = self._windows[key] = TokenWindow(self.limit, self.window, clock=self._clock)
        return tokens

    async def acquire(self, key: str) -> float:
        """Waits until ``key`` may send one request; returns how long that took in seconds.

        Raises ``Paused`` instead of waiting when Airtable asked for more silence than ``max_pause``.
        """
        tokens = self._tokens(key)
        paused = tokens.paused_for()
        if paused > self._max_pause:
            raise Paused(paused)
        booking = tokens.reserve()
        if booking.wait > 0:
            await self._sleep(booking.wait)
        late = tokens.went(booking)
        if late > 0:
            await self._sleep(late)
        return booking.wait + late

    def rate_limited(self, key: str, retry_after: float) -> None:
        self._tokens(key).rate_limited(retry_after)

    def answered(self, key: str) -> None:
        tokens = self._windows.get(key)
        if tokens is not None:
            tokens.answered()

    def widest_window(self) -> float:
        """The widest current window of any key: the configured one while Airtable sends no 429."""
        return max((tokens.window for tokens in self._windows.values()), default=self.window)
