"""Conversation history: PostgreSQL keeps every message, Redis caches the sessions in use.

Messages are stored in the OpenAI chat format (``role``, ``content``, ``tool_calls``,
``tool_call_id``), so a stored conversation goes back to the model as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson

from airscope.services.common import datastores

# Two tables that only ever gain rows: created on first connection if missing; a migration tool
# would cost more than this schema will ever change.
SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_sessions (
    id text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS chat_messages (
    id bigserial PRIMARY KEY,
    session_id text NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    message jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS chat_messages_session ON chat_messages (session_id, id);
"""

CACHE_TTL_SECONDS = 15 * 60
ACTIVE_WINDOW_SECONDS = 15 * 60
ACTIVE_KEY = "llm:sessions:active"
# The most earlier messages sent back to the model: a long session must not grow every prompt.
CONTEXT_MESSAGES = 40


def _cache_key(session_id: str) -> str:
    return f"llm:session:{session_id}:messages"


async def create_pool(dsn: str) -> asyncpg.Pool:
    return await datastores.create_pool(dsn, datastores.SchemaOnce("chat_schema", [SCHEMA]))


def recent(messages: Sequence[dict], limit: int = CONTEXT_MESSAGES) -> list[dict]:
    """The last ``limit`` messages, starting at a user message: a cut that left a tool result
    without the assistant message that asked for it would be rejected by the provider."""
    tail = list(messages[-limit:]) if limit else []
    while tail and tail[0].get("role") != "user":
        tail.pop(0)
    return tail


class History:
    def __init__(self, pool: asyncpg.Pool, redis: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self.redis = redis
        self.clock = clock

    async def load(self, session_id: str) -> list[dict] | None:
        """The session's messages, oldest first; None when no such session exists.

        Read-through: a cached session costs one Redis round trip, a cold one a query that
        refills the cache.
        """
        key = _cache_key(session_id)
        cached = await self.redis.lrange(key, 0, -1)
        if cached:
            await self.redis.expire(key, CACHE_TTL_SECONDS)
            return [orjson.loads(item) for item in cached]
        async with self.pool.acquire() as connection:
            exists = await connection.fetchval("SELECT 1 FROM chat_sessions WHERE id = $1", session_id)
            if not exists:
                return None
            rows = await connection.fetch(
                "SELECT message FROM chat_messages WHERE session_id = $1 ORDER BY id", session_id
            )
        messages = [row["message"] for row in rows]
        if messages:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.rpush(key, *(orjson.dumps(m) for m in messages))
                pipe.expire(key, CACHE_TTL_SECONDS)
                await pipe.execute()
        return messages

    async def append(self, session_id: str, messages: Sequence[dict]) -> int:
        """Stores the new messages, adds them to the cached session (write-through) and marks the
        session active now; answers how many sessions were active in the window.

        One statement (the session's row and its messages together, atomic as any statement) and
        one Redis round trip: a transaction of three statements cost four round trips a chat.
        RPUSHX only extends a list that is cached: an evicted session is refilled by the next
        load instead of being cached with only its newest messages.
        """
        async with self.pool.acquire() as connection:
            await connection.execute(
                "WITH session AS ("
                " INSERT INTO chat_sessions (id) VALUES ($1)"
                " ON CONFLICT (id) DO UPDATE SET updated_at = now() RETURNING id)"
                " INSERT INTO chat_messages (session_id, message)"
                " SELECT session.id, message FROM session, unnest($2::jsonb[]) WITH ORDINALITY AS m(message, n)"
                " ORDER BY n",
                session_id,
                list(messages),
            )
        key = _cache_key(session_id)
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpushx(key, *(orjson.dumps(m) for m in messages))
            pipe.expire(key, CACHE_TTL_SECONDS)
            pipe.zadd(ACTIVE_KEY, {session_id: now})
            pipe.zremrangebyscore(ACTIVE_KEY, "-inf", now - ACTIVE_WINDOW_SECONDS)
            pipe.expire(ACTIVE_KEY, ACTIVE_WINDOW_SECONDS)
            pipe.zcard(ACTIVE_KEY)
            *_, count = await pipe.execute()
        return int(count)

    async def active_sessions(self) -> int:
        now = self.clock()
        return int(await self.redis.zcount(ACTIVE_KEY, now - ACTIVE_WINDOW_SECONDS, "+inf"))
