"""The services' Redis client against a real Redis: a pooled connection that died (Redis restarted,
or closed it) costs a reconnection, not a failed request or health check."""

from __future__ import annotations

import pytest
import redis

from airscope.services.common import redis_client

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


async def test_a_command_on_a_pooled_connection_redis_closed_reconnects_and_answers(redis_server) -> None:
    client = redis_client.connect(redis_server.url, socket_timeout=1.0, connect_timeout=1.0)
    try:
        await client.set("llm-test:key", "kept")
        pooled_id = await client.client_id()
        # Closed by Redis (as by a restart) right after its last use: no health check would run.
        with redis.Redis.from_url(redis_server.url) as admin:
            assert admin.client_kill_filter(_id=pooled_id) == 1
        assert await client.get("llm-test:key") == b"kept"
        assert await client.client_id() != pooled_id
    finally:
        await client.delete("llm-test:key")
        await client.aclose()
