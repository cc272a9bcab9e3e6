"""llm-orchestrator's Redis client against a real Redis: a pooled connection that died (Redis
restarted, or closed it) costs a reconnection, not a 503."""

from __future__ import annotations

import pytest
import redis

from airscope.services.llm_orchestrator.app import connect_redis

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


async def test_a_command_on_a_pooled_connection_redis_closed_reconnects_and_answers(redis_server) -> None:
    client = connect_redis(redis_server.url)
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
