"""What automation-services' queue and workflow tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

DB = 7  # the Redis database of the queue and workflow tests, emptied before each test


@pytest.fixture
async def client(redis_server) -> AsyncIterator[Redis]:
    """An asyncio Redis client on an emptied database of its own."""
    client = Redis.from_url(redis_server.url.rsplit("/", 1)[0] + f"/{DB}")
    await client.flushdb()
    yield client
    await client.aclose()
