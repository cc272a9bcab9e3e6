"""Conversation history against real PostgreSQL and Redis: stored, cached, trimmed for the model."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio

from airscope.services.llm_orchestrator import history

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


@pytest.fixture
async def store(postgres_server, redis_server):
    postgres_server.ensure_database("llm_test", "pw")
    pool = await history.create_pool(postgres_server.dsn("llm_test", "llm_test", "pw"))
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield history.History(pool, client)
    await pool.close()
    await client.aclose()


TURN = [
    {"role": "user", "content": "List the tables"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "list_bases", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": '{"bases": []}'},
    {"role": "assistant", "content": "No bases."},
]


async def test_unknown_session_is_none(store) -> None:
    assert await store.load(uuid.uuid4().hex) is None


async def test_messages_survive_and_come_back_in_order(store) -> None:
    session = uuid.uuid4().hex
    await store.append(session, TURN[:2])
    await store.append(session, TURN[2:])
    assert await store.load(session) == TURN


async def test_cache_is_filled_on_read_and_extended_on_write(store) -> None:
    session = uuid.uuid4().hex
    key = f"llm:session:{session}:messages"
    await store.append(session, TURN[:1])
    assert await store.redis.exists(key) == 0  # nothing cached yet: RPUSHX does not create
    assert await store.load(session) == TURN[:1]
    assert await store.redis.llen(key) == 1
    await store.append(session, TURN[1:])
    assert await store.redis.llen(key) == len(TURN)
    assert 0 < await store.redis.ttl(key) <= history.CACHE_TTL_SECONDS
    # The cache is only a copy: without it PostgreSQL answers the same.
    await store.redis.delete(key)
    assert await store.load(session) == TURN


async def test_appending_marks_the_session_active_and_counts_the_window(store) -> None:
    await store.redis.delete(history.ACTIVE_KEY)
    now = 1_000_000.0
    store.clock = lambda: now
    a, b, c = (uuid.uuid4().hex for _ in range(3))
    assert await store.append(a, TURN[:1]) == 1
    assert await store.append(b, TURN[:1]) == 2
    assert await store.append(a, TURN[1:]) == 2
    now += history.ACTIVE_WINDOW_SECONDS - 1
    assert await store.append(c, TURN[:1]) == 3
    now += 2  # a and b fell out of the window
    assert await store.active_sessions() == 1
    assert await store.load(a) == TURN


def test_recent_starts_at_a_user_message() -> None:
    messages = TURN * 3
    assert history.recent(messages, limit=len(messages)) == messages
    # The last 6 begin with a tool result and an answer: cut back to the next user message.
    assert history.recent(messages, limit=6) == TURN
    assert history.recent(messages, limit=0) == []
