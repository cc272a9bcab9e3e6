"""/api/health answers from the last observations one background refresh made, with their age."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from airscope.services.api_gateway.config import Upstream
from airscope.services.api_gateway.health import STALE_INTERVALS, PlatformHealth
from airscope.telemetry import Check, CheckResult

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def upstream(name: str, deployed: bool = True) -> Upstream:
    return Upstream(name=name, url=f"http://{name}", timeout=10.0, deployed=deployed)


def platform(clock: Clock, *, own: str = "pass") -> PlatformHealth:
    async def own_results() -> list[CheckResult]:
        check = Check("redis", probe=lambda: asyncio.sleep(0))
        return [CheckResult(check, own == "pass", 0.001, "", clock())]

    return PlatformHealth(
        {"platform-services": upstream("platform-services"), "mcp-server": upstream("mcp-server", False)},
        timeout=1.0,
        interval=2.0,
        own_results=own_results,
        own_interval=10.0,
        version="1.0.0",
        now=clock,
    )


def counting_client(answers: list[int]) -> tuple[httpx.AsyncClient, list[str]]:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(answers[min(len(asked), len(answers)) - 1], json={"status": "pass"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), asked


async def test_documents_are_read_from_the_last_refresh_not_fetched_per_request():
    clock = Clock()
    health = platform(clock)
    client, asked = counting_client([200])
    await health.refresh(client)
    for _ in range(20):
        status, body = await health.document()
    assert asked == ["http://platform-services/health"]  # one fetch for twenty documents
    assert status == 200
    assert body["status"] == "warn"  # mcp-server is not deployed in this build
    entry = body["checks"]["platform-services:health"][0]
    assert (entry["status"], entry["time"], entry["ageSeconds"]) == ("pass", "2026-12-07T12:00:00.000Z", 0)


async def test_each_entry_states_its_age_and_turns_stale_after_three_refreshes():
    clock = Clock()
    health = platform(clock)
    client, _ = counting_client([200])
    await health.refresh(client)

    clock.now = START + timedelta(seconds=STALE_INTERVALS * 2.0 - 0.5)
    _, body = await health.document()
    entry = body["checks"]["platform-services:health"][0]
    assert (entry["status"], entry["ageSeconds"]) == ("pass", 5.5)

    clock.now = START + timedelta(seconds=7)
    _, body = await health.document()
    entry = body["checks"]["platform-services:health"][0]
    assert entry["status"] == "warn"
    assert entry["output"] == "stale: observed 7 s ago, refreshed every 2 s"
    # The gateway's own checks run every 10 s (its kit's loop): 7 s is still fresh for them.
    assert body["checks"]["api-gateway:health"][0]["status"] == "pass"


async def test_a_failing_service_fails_the_document_and_a_later_refresh_clears_it():
    clock = Clock()
    health = platform(clock)
    client, _ = counting_client([503, 200])
    await health.refresh(client)
    status, body = await health.document()
    assert (status, body["checks"]["platform-services:health"][0]["status"]) == (503, "fail")
    await health.refresh(client)
    status, _ = await health.document()
    assert status == 200


async def test_the_first_document_waits_for_the_first_refresh_and_the_loop_keeps_refreshing():
    clock = Clock()
    health = platform(clock)
    health.interval = 0.01
    client, asked = counting_client([200])
    loop = asyncio.ensure_future(health.run(client))
    try:
        status, _ = await asyncio.wait_for(health.document(), 1)
        await asyncio.sleep(0.1)
    finally:
        loop.cancel()
    assert status == 200
    assert len(asked) >= 3
