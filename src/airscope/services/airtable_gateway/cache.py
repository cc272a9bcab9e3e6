"""A Redis read cache in front of Airtable, invalidated per base by a generation counter.

Keys: ``airtable-gateway:cache:<operation>:<sha256 of [base, generation, normalized query]>``, so
no raw table name, formula or record id is stored unbounded in a key. Every cached read of a base
includes that base's generation (``airtable-gateway:generation:<base id>``); a write bumps it with
one INCR, after which no reader can build an older key, and the old entries simply expire.
The generation is per base rather than per table because a table can be named by its name or by
its id: a write through one spelling must not leave the other stale.

Redis is an optimisation here: when it fails, a read goes to Airtable (counted as a miss and
logged) instead of failing; the readiness check reports Redis separately.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from airscope.services.airtable_gateway.metrics import CACHE_REQUESTS
from airscope.telemetry import get_logger

log = get_logger(__name__)

PREFIX = "airtable-gateway"
# Longer than any entry lives, so an expired counter (read as 0 again) can never revive an entry.
GENERATION_TTL_SECONDS = 86_400

Query = Mapping[str, str | int | list[str] | None]


def normalize_query(query: Query) -> dict[str, Any]:
    """Drops unset parameters and orders repeatable ones, so equal requests share one entry."""
    normalized: dict[str, Any] = {}
    for name, value in query.items():
        if value is None or value == []:
            continue
        normalized[name] = sorted(set(value)) if isinstance(value, list) else value
    return normalized


def cache_key(operation: str, base_id: str | None, generation: int, query: Query) -> str:
    material = orjson.dumps([base_id, generation, normalize_query(query)], option=orjson.OPT_SORT_KEYS)
    return f"{PREFIX}:cache:{operation}:{hashlib.sha256(material).hexdigest()}"


def generation_key(base_id: str) -> str:
    # Base ids are validated (app + 14 letters or digits) before they get here.
    return f"{PREFIX}:generation:{base_id}"


class ReadCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def get_or_load(
        self,
        operation: str,
        base_id: str | None,
        query: Query,
        load: Callable[[], Awaitable[Any]],
    ) -> Any:
        """The cached answer of ``operation`` for this base and query, else ``load()``'s, then cached."""
        key = await self._key(operation, base_id, query)
        cached = await self._get(key) if key is not None else None
        if cached is not None:
            CACHE_REQUESTS.labels(operation, "hit").inc()
            return orjson.loads(cached)
        CACHE_REQUESTS.labels(operation, "miss").inc()
        value = await load()
        if key is not None:
            await self._set(key, orjson.dumps(value))
        return value

    async def invalidate(self, base_id: str) -> None:
        """After a write to ``base_id``: every cached read of that base becomes unreachable."""
        key = generation_key(base_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, GENERATION_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Entries live at most the TTL: that is how stale a read can be after this.
            log.warning("cache invalidation failed", base_id=base_id, error=repr(exc), ttl_seconds=self._ttl)

    async def _key(self, operation: str, base_id: str | None, query: Query) -> str | None:
        generation = 0
        if base_id is not None:
            try:
                generation = int(await self._redis.get(generation_key(base_id)) or 0)
            except (RedisError, OSError) as exc:
                log.warning("cache unavailable, reading from Airtable", operation=operation, error=repr(exc))
                return None
        return cache_key(operation, base_id, generation, query)

    async def _get(self, key: str) -> bytes | None:
        try:
            return await self._redis.get(key)
        except (RedisError, OSError) as exc:
            log.warning("cache read failed, reading from Airtable", error=repr(exc))
            return None

    async def _set(self, key: str, value: bytes) -> None:
        try:
            await self._redis.set(key, value, ex=self._ttl)
        except (RedisError, OSError) as exc:
            log.warning("cache write failed", error=repr(exc))
