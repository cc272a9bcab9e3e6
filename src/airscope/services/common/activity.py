"""Reports user activity (login, chat, upload, saga) to platform-services' analytics.

Fire and forget: the event is posted in the background with a short timeout, so a slow or absent
platform-services never slows or fails the request that caused it; a lost event is logged at
info. At most ``MAX_IN_FLIGHT`` posts wait at once; beyond that events are dropped, not queued.
"""

from __future__ import annotations

import asyncio

import httpx

from airscope.telemetry import get_logger

log = get_logger(__name__)

EVENT_TYPES = frozenset({"login", "chat", "upload", "saga"})
MAX_IN_FLIGHT = 100
TIMEOUT_SECONDS = 2.0


class ActivityReporter:
    def __init__(self, client: httpx.AsyncClient, platform_url: str) -> None:
        self.client = client
        self.url = platform_url.rstrip("/") + "/activity"
        self._tasks: set[asyncio.Task] = set()

    def report(self, event_type: str, user: str | None) -> None:
        """Posts ``{"type", "user"}``; ``user`` is the caller's identity (the gateway's X-Client-Id)."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown activity type {event_type!r} (known: {sorted(EVENT_TYPES)})")
        if not user:
            return
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.info("activity event dropped", type=event_type, reason="too many in flight")
            return
        task = asyncio.create_task(self._post({"type": event_type, "user": user}))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, event: dict[str, str]) -> None:
        try:
            response = await self.client.post(self.url, json=event, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.info("activity event dropped", type=event["type"], reason=type(exc).__name__)

    async def drain(self) -> None:
        """Waits for the posts in flight (at shutdown, or in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
