"""A deadline on a service's own answer, shorter than its callers' timeouts.

A caller that gives up (its timeout) leaves the callee working for no one; under overload that
wasted work is what keeps the platform from recovering. A service whose answer can take long (its
retries, a rate limiter's queue, an LLM's rounds) therefore stops at its own deadline, set below
every caller's timeout (tests/services/api_gateway/test_timeouts.py holds the chain to it), and
answers 504 itself: the caller hears why, and the work stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from airscope.services.common.errors import ServiceError, error_response
from airscope.telemetry import get_logger

log = get_logger(__name__)


class RequestDeadline:
    """Pure ASGI middleware: a request still unanswered after ``seconds`` is cancelled and answered
    504 ``code``; ``exempt`` paths (probes, long-polls with their own bound) are left alone."""

    def __init__(self, app, *, seconds: float, code: str, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.seconds = seconds
        self.code = code
        self.exempt = frozenset(exempt)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                await self.app(scope, receive, send_tracked)
        except TimeoutError:
            # Only this deadline's expiry is answered here; a TimeoutError of the app's own is its.
            if not deadline.expired() or started:
                raise
            log.warning("request passed its deadline", deadline_s=self.seconds, path=scope["path"])
            error = ServiceError(
                504,
                self.code,
                f"no answer within this service's deadline of {self.seconds:g}s; try again later",
            )
            await error_response(error)(scope, receive, send)
