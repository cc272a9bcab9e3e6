"""The token bucket against a real Redis, and what it does when Redis is gone."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from airscope.services.api_gateway.ratelimit import Decision, RateLimiter

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


def client_id() -> str:
    return f"key:{uuid.uuid4().hex[:16]}"


async def test_a_burst_is_allowed_then_refused_with_the_time_to_the_next_token(redis_server) -> None:
    async with redis.Redis.from_url(redis_server.url) as client:
        limiter = RateLimiter(client, rate=2, burst=3)
        caller = client_id()
        decisions = [await limiter.take(caller) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after <= 0.5
    assert decisions[-1].retry_after_header == "1"


async def test_each_client_has_its_own_bucket(redis_server) -> None:
    async with redis.Redis.from_url(redis_server.url) as client:
        limiter = RateLimiter(client, rate=1, burst=1)
        first, second = client_id(), client_id()
        assert (await limiter.take(first)).allowed
        assert not (await limiter.take(first)).allowed
        assert (await limiter.take(second)).allowed


async def test_the_bucket_refills_at_the_rate(redis_server) -> None:
    async with redis.Redis.from_url(redis_server.url) as client:
        limiter = RateLimiter(client, rate=20, burst=1)
        caller = client_id()
        assert (await limiter.take(caller)).allowed
        assert not (await limiter.take(caller)).allowed
        await asyncio.sleep(0.06)
        assert (await limiter.take(caller)).allowed


async def test_an_unreachable_redis_lets_requests_through_and_is_counted(free_port) -> None:
    before = REGISTRY.get_sample_value("gateway_rate_limiter_errors_total") or 0
    async with redis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5
    ) as client:
        limiter = RateLimiter(client, rate=1, burst=1)
        decisions = [await limiter.take(client_id()) for _ in range(2)]
    assert all(d.allowed for d in decisions)
    assert REGISTRY.get_sample_value("gateway_rate_limiter_errors_total") == before + 2


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert Decision(False, 0.01).retry_after_header == "1"
    assert Decision(False, 2.2).retry_after_header == "3"
