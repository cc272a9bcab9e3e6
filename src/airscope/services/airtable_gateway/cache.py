"""A Redis read cache in front of Airtable, invalidated by generation counters on our own writes.

Keys: ``airtable-gateway:cache:<operation>:<sha256 of [base, generations, normalized query]>``, so
no raw table name, formula or record id is stored unbounded in a key. Every cached read of a base
includes that base's generation (``airtable-gateway:generation:<base id>``), and a read of a
table's records also the table's (``...:<base id>:<sha256 of the table's spelling>``). A write
bumps a generation with one INCR, after which no reader can build an older key, and the old
entries simply expire:

- a change of the schema (a table created, renamed) bumps the base's: every read of the base;
- a write of records bumps the table's, under each spelling of it (its id and its name: a write
  through one must not leave reads through the other stale), so reads of the other tables of the
  base stay cached. The spellings come from the base's table list the gateway has seen at the
  base's current generation; when it has not seen it (or the table is not in it) the base's is
  bumped, as before tables had generations of their own.

Why that is correct enough: a reader cannot see an answer older than a write the gateway finished
before the reader asked, whichever replica wrote and whatever spelling either used, because the
write's INCRs land before its answer is sent and the table list a spelling is taken from belongs
to the current schema generation. What no counter can see are changes made in Airtable itself (its
UI, another client): those show after at most the TTL, as they always did.

Identical reads in flight share one load (single flight): the first miss of a key loads and caches
it; the others that arrive while it runs wait for its answer instead of asking Airtable again.
Since the key holds the generations, a read that starts after a write never joins a load that
started before it. The load runs in a task of its own, so a caller that leaves does not cancel
it for the others.

Redis is an optimisation here: when it fails, a read goes to Airtable (counted as a miss and
logged) instead of failing, without single flight (there is no generation to key it by); the
readiness check reports Redis separately.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from airscope.services.airtable_gateway.metrics import CACHE_REQUESTS, CALLS_SAVED
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


def cache_key(operation: str, base_id: str | None, generations: list[int], query: Query) -> str:
    material = orjson.dumps([base_id, generations, normalize_query(query)], option=orjson.OPT_SORT_KEYS)
    return f"{PREFIX}:cache:{operation}:{hashlib.sha256(material).hexdigest()}"


def generation_key(base_id: str, table: str | None = None) -> str:
    # Base ids are validated (app + 14 letters or digits) before they get here; a table's spelling
    # is anything a caller sent, so it is hashed.
    if table is None:
        return f"{PREFIX}:generation:{base_id}"
    return f"{PREFIX}:generation:{base_id}:{hashlib.sha256(table.encode()).hexdigest()[:32]}"


def spellings(tables: list[dict]) -> dict[str, tuple[str, ...]]:
    """Each table's id and name, each mapped to both: the spellings that name the same table."""
    names: dict[str, tuple[str, ...]] = {}
    for table in tables:
        both = tuple(str(table[part]) for part in ("id", "name") if table.get(part))
        for spelling in both:
            names[spelling] = both
    return names


class SingleFlight:
    """One running load per key; callers of a key already loading await that load's answer."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task] = {}

    def running(self, key: str) -> asyncio.Task | None:
        return self._running.get(key)

    def start(self, key: str, load: Callable[[], Awaitable[Any]]) -> asyncio.Task:
        task = asyncio.ensure_future(load())
        self._running[key] = task
        task.add_done_callback(lambda done: self._landed(key, done))
        return task

    def _landed(self, key: str, task: asyncio.Task) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # every caller may have left: retrieved here, so it is never "unretrieved"


class ReadCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._flights = SingleFlight()
        # base id -> (its generation, its tables' spellings at that generation), from the table
        # lists read through the cache; bounded by the bases that exist.
        self._tables: dict[str, tuple[int, dict[str, tuple[str, ...]]]] = {}

    async def get_or_load(
        self,
        operation: str,
        base_id: str | None,
        query: Query,
        load: Callable[[], Awaitable[Any]],
        *,
        table: str | None = None,
    ) -> Any:
        """The cached answer of ``operation`` for this base (and table) and query, else ``load()``'s,
        then cached; identical loads in flight are shared."""
        found = await self._generations(operation, base_id, table)
        if found is None:
            CACHE_REQUESTS.labels(operation, "miss").inc()
            return await load()
        key = cache_key(operation, base_id, found, query)
        value = await self._cached_or_flown(operation, key, load)
        if operation == "list_tables" and base_id is not None:
            self._tables[base_id] = (found[0], spellings(value.get("tables", [])))
        return value

    async def _cached_or_flown(self, operation: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        flight = self._flights.running(key)
        if flight is None:
            cached = await self._get(key)
            if cached is not None:
                CACHE_REQUESTS.labels(operation, "hit").inc()
                return orjson.loads(cached)
            flight = self._flights.running(key)  # one may have started while Redis answered
        CACHE_REQUESTS.labels(operation, "miss").inc()
        if flight is not None:
            CALLS_SAVED.labels("coalesced").inc()
        else:

            async def fill() -> Any:
                value = await load()
                await self._set(key, orjson.dumps(value))
                return value

            flight = self._flights.start(key, fill)
        # Shielded: a caller that leaves must not cancel the load the others wait for.
        return await asyncio.shield(flight)

    async def invalidate(self, base_id: str, table: str | None = None) -> None:
        """After a write to ``base_id`` (to ``table``'s records when given): the cached reads it may
        have changed become unreachable (see the module docstring)."""
        try:
            keys = [generation_key(base_id)]
            if table is not None:
                same = await self._spellings(base_id, table)
                if same is not None:
                    keys = [generation_key(base_id, spelling) for spelling in same]
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                    pipe.expire(key, GENERATION_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Entries live at most the TTL: that is how stale a read can be after this.
            log.warning("cache invalidation failed", base_id=base_id, error=repr(exc), ttl_seconds=self._ttl)

    async def _spellings(self, base_id: str, table: str) -> tuple[str, ...] | None:
        """Every spelling of ``table`` at the base's current generation, or None when unknown."""
        generation = int(await self._redis.get(generation_key(base_id)) or 0)
        known = self._tables.get(base_id)
        if known is None or known[0] != generation:
            # Another replica (or this one before a restart) may have cached the list: learn from it.
            cached = await self._redis.get(cache_key("list_tables", base_id, [generation], {}))
            if cached is None:
                return None
            known = self._tables[base_id] = (generation, spellings(orjson.loads(cached).get("tables", [])))
        return known[1].get(table)

    async def _generations(self, operation: str, base_id: str | None, table: str | None) -> list[int] | None:
        """The generations a read's key holds: none for /bases, the base's, and the table's."""
        if base_id is None:
            return []
        keys = [generation_key(base_id)] + ([generation_key(base_id, table)] if table is not None else [])
        try:
            return [int(value or 0) for value in await self._redis.mget(keys)]
        except (RedisError, OSError) as exc:
            log.warning("cache unavailable, reading from Airtable", operation=operation, error=repr(exc))
            return None

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
