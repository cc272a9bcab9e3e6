"""The services' background tasks: gauges of shared state re-read on a timer, and tasks stopped
together when the app shuts down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.exceptions

from airscope.telemetry import untraced


async def refresh_gauges(
    refresh: Callable[[], Awaitable[None]], every_seconds: float, log: Any, **context: Any
) -> None:
    """Calls ``refresh`` every ``every_seconds``, for ever. The gauges read shared state in Redis,
    which other instances change too; while Redis is down its own check reports the outage and the
    gauges keep their last value."""
    while True:
        try:
            with untraced():  # a timer, not anyone's request: no trace
                await refresh()
        except redis.exceptions.RedisError as exc:
            log.debug("gauge refresh failed", **context, error=type(exc).__name__)
        await asyncio.sleep(every_seconds)


async def stop(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancels the tasks and waits until they have ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
