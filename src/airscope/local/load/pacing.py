"""Open-loop pacing: action ``i`` starts at ``i / rps`` whatever the earlier ones are doing.

A closed loop would slow down with the platform and hide its latency (coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable


async def schedule(
    rps: float,
    duration: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[int]:
    """Yields 0, 1, 2... each at ``start + i / rps`` while that is within ``duration``. A tick that
    comes late fires at once and the ones after it keep their own times: the rate never drifts."""
    start = clock()
    i = 0
    while i / rps < duration:
        delay = start + i / rps - clock()
        if delay > 0:
            await sleep(delay)
        yield i
        i += 1
