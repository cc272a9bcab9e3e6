from __future__ import annotations

import pytest
import redis
import redis.asyncio

from airscope.local.process import group_members
from airscope.local.redis import RedisServer

pytestmark = pytest.mark.infra


@pytest.mark.anyio
async def test_the_session_server_answers_ping(redis_server):
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    async with redis.asyncio.from_url(redis_server.url) as client:
        assert await client.ping()


def test_start_ping_stop_leaves_no_process(reachable_tmp, free_port):
    server = RedisServer(reachable_tmp("redis-lifecycle") / "data", free_port())
    try:
        server.start()
        pid = server.process.pid()
        with redis.Redis.from_url(server.url) as client:
            assert client.ping()
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
        server.start()
        assert server.process.pid() == pid

        assert server.stop() == pid
        assert not server.is_running()
        assert group_members(pid) == []
        assert server.stop() is None
    finally:
        server.stop()
