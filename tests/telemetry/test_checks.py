"""The ready-made checks against real PostgreSQL and Redis, started by airscope.local."""

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from airscope.telemetry import http_check, postgres_check, redis_check
from tests.support import free_port

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    return free_port()  # nothing listens on it


async def run(check) -> None:
    await check.probe()


@pytest.mark.infra
async def test_postgres_check_passes_on_a_dsn_and_on_a_pool(postgres_server):
    await run(postgres_check(postgres_server.dsn()))
    pool = await asyncpg.create_pool(postgres_server.dsn(), min_size=1, max_size=2)
    try:
        await run(postgres_check(pool))
    finally:
        await pool.close()


@pytest.mark.infra
async def test_postgres_check_on_a_dsn_keeps_one_connection_and_replaces_a_lost_one(postgres_server):
    check = postgres_check(postgres_server.dsn())
    admin = await asyncpg.connect(postgres_server.dsn())
    try:
        await run(check)
        first = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        await run(check)
        await run(check)
        again = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        assert again == first  # no connection opened per probe
        # PostgreSQL restarted under the check: its kept connection is gone.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        with pytest.raises(Exception):  # noqa: B017 (asyncpg raises several kinds for a lost backend)
            await run(check)
        await run(check)  # the next probe reconnects
    finally:
        await admin.close()


async def test_postgres_check_fails_when_nothing_listens():
    with pytest.raises(OSError):
        await run(postgres_check(f"postgresql://app:pw@127.0.0.1:{closed_port()}/app"))


@pytest.mark.infra
async def test_redis_check_passes_against_redis_and_fails_without_it(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    try:
        await run(redis_check(client))
    finally:
        await client.aclose()
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    try:
        with pytest.raises(redis.ConnectionError):
            await run(redis_check(dead))
    finally:
        await dead.aclose()


async def test_http_check_reads_the_other_service_liveness(make_kit):
    other = make_kit()
    async with other.client() as client:
        check = http_check("other", "http://testserver", client=client)
        await run(check)
        with pytest.raises(RuntimeError, match="answered 404"):
            await run(http_check("other", "http://testserver/nowhere", client=client))
    with pytest.raises(httpx.ConnectError):
        await run(http_check("gone", f"http://127.0.0.1:{closed_port()}"))


@pytest.mark.infra
async def test_a_service_with_real_dependencies_reports_them_in_health(
    make_kit, postgres_server, redis_server
):
    client = redis.Redis.from_url(redis_server.url)
    kit = make_kit(
        app=FastAPI(), checks=[postgres_check(postgres_server.dsn()), redis_check(client, critical=False)]
    )
    try:
        async with kit.client() as http:
            response = await http.get("/health")
    finally:
        await client.aclose()
    assert response.status_code == 200
    assert response.json()["status"] == "pass"
    assert set(response.json()["checks"]) == {"postgres:responseTime", "redis:responseTime"}
    assert kit.sample("health_check_status", check="postgres") == 1
