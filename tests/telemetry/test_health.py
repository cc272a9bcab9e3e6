import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from airscope.telemetry import Check
from tests.support import wait_until_async

pytestmark = pytest.mark.anyio


async def passing() -> None:
    return None


async def refusing() -> None:
    raise ConnectionRefusedError("connection refused by postgresql://app:s3cr3t@db:5432/app")


async def hanging() -> None:
    await asyncio.sleep(60)


def counting_probe(counter: list[int]):
    async def probe() -> None:
        counter.append(1)
        await asyncio.sleep(0.01)

    return probe


async def get(kit, path: str) -> httpx.Response:
    async with kit.client() as client:
        return await client.get(path)


async def test_all_checks_passing_is_200_pass(make_kit):
    kit = make_kit(checks=[Check("postgres", passing), Check("redis", passing)])
    response = await get(kit, "/health")
    body = response.json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    assert body["status"] == "pass"
    assert body["serviceId"] == "sample" and body["version"] == "1.2.3"
    entry = body["checks"]["postgres:responseTime"][0]
    assert entry["status"] == "pass" and entry["observedUnit"] == "ms" and entry["time"].endswith("Z")
    assert kit.sample("health_check_status", check="postgres") == 1


async def test_a_failing_non_critical_check_is_200_warn_and_still_ready(make_kit):
    kit = make_kit(checks=[Check("postgres", passing), Check("cache", refusing, critical=False)])
    response = await get(kit, "/health")
    assert response.status_code == 200
    assert response.json()["status"] == "warn"
    assert response.json()["checks"]["cache:responseTime"][0]["status"] == "warn"
    assert kit.sample("health_check_status", check="cache") == 0
    ready = await get(kit, "/health/ready")
    assert ready.status_code == 200 and "cache:responseTime" not in ready.json()["checks"]


async def test_a_failing_critical_check_is_503_fail_and_names_it_without_its_secret(make_kit):
    kit = make_kit(checks=[Check("postgres", refusing), Check("redis", passing)])
    for path in ("/health", "/health/ready"):
        response = await get(kit, path)
        assert response.status_code == 503
        assert response.json()["status"] == "fail"
        entry = response.json()["checks"]["postgres:responseTime"][0]
        assert entry["status"] == "fail"
        assert "ConnectionRefusedError" in entry["output"]
        assert "s3cr3t" not in response.text
    live = await get(kit, "/health/live")
    assert live.status_code == 200 and live.json()["checks"] == {}


async def test_a_check_that_times_out_fails(make_kit):
    kit = make_kit(checks=[Check("slow", hanging)], health_timeout=0.05)
    response = await get(kit, "/health")
    assert response.status_code == 503
    assert response.json()["checks"]["slow:responseTime"][0]["output"] == "timed out after 0.05s"
    assert kit.sample("health_check_status", check="slow") == 0
    assert kit.sample("health_check_duration_seconds", check="slow") >= 0.05


async def test_results_are_cached_so_probes_cannot_hammer_a_dependency(make_kit):
    calls: list[int] = []
    now = [0.0]
    kit = make_kit(checks=[Check("db", counting_probe(calls))], health_cache_ttl=5, clock=lambda: now[0])
    async with kit.client() as client:
        await asyncio.gather(*(client.get("/health") for _ in range(20)))
        assert len(calls) == 1
        now[0] = 4.0
        await client.get("/health/ready")
        assert len(calls) == 1
        now[0] = 6.0
        await client.get("/health")
        assert len(calls) == 2


async def test_background_loop_keeps_the_gauge_current_without_requests(make_kit):
    state = {"up": True}

    async def flapping() -> None:
        if not state["up"]:
            raise ConnectionError("down")

    kit = make_kit(checks=[Check("db", flapping)], health_interval=0.02)
    status = lambda: kit.sample("health_check_status", check="db")  # noqa: E731
    async with kit.app.router.lifespan_context(kit.app):
        await wait_until_async(lambda: status() == 1, 2, 0.005, message="db passing")
        state["up"] = False
        await wait_until_async(lambda: status() == 0, 2, 0.005, message="db failing")
        state["up"] = True
        await wait_until_async(lambda: status() == 1, 2, 0.005, message="db passing again")
    assert kit.instrumentation.health._loop_task is None


async def test_the_app_own_lifespan_still_runs(make_kit):
    events = []

    @asynccontextmanager
    async def lifespan(app):
        events.append("start")
        yield
        events.append("stop")

    kit = make_kit(app=FastAPI(lifespan=lifespan))
    async with kit.app.router.lifespan_context(kit.app):
        assert events == ["start"]
    assert events == ["start", "stop"]


def test_check_names_must_be_unique(make_kit):
    with pytest.raises(ValueError, match="unique"):
        make_kit(checks=[Check("db", passing), Check("db", passing)])
