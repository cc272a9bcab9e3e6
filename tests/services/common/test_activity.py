"""ActivityReporter against a scripted transport (a unit test: platform-services' side is tested there)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from airscope.services.common import ActivityReporter
from airscope.services.common import activity as activity_module

pytestmark = pytest.mark.anyio


async def test_an_event_is_posted_to_platform_services_in_the_background() -> None:
    received: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append((str(request.url), json.loads(request.content)))
        return httpx.Response(202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        reporter = ActivityReporter(client, "http://platform:7007/")
        reporter.report("chat", "user:42")
        reporter.report("upload", None)  # anonymous: nothing to attribute
        await reporter.drain()
    assert received == [("http://platform:7007/activity", {"type": "chat", "user": "user:42"})]


async def test_a_failing_platform_loses_the_event_without_raising() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        reporter = ActivityReporter(client, "http://platform:7007")
        reporter.report("saga", "key:abc")
        await reporter.drain()


async def test_unknown_types_are_refused_and_posts_in_flight_are_bounded(monkeypatch) -> None:
    release = asyncio.Event()
    posted = 0

    async def slow_handler(request: httpx.Request) -> httpx.Response:
        nonlocal posted
        posted += 1
        await release.wait()
        return httpx.Response(202)

    monkeypatch.setattr(activity_module, "MAX_IN_FLIGHT", 3)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow_handler)) as client:
        reporter = ActivityReporter(client, "http://platform:7007")
        with pytest.raises(ValueError, match="unknown activity type"):
            reporter.report("visit", "user:1")
        for _ in range(10):
            reporter.report("login", "user:1")
        await asyncio.sleep(0.05)
        release.set()
        await reporter.drain()
    assert posted == 3
