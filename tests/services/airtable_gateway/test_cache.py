"""Cache keys (normalized, hashed, generation-scoped), invalidation of a table's reads under each of
its spellings, single flight, and a cache that degrades to misses without Redis (real Redis)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from airscope.local.redis import RedisServer
from airscope.services.airtable_gateway.cache import (
    ReadCache,
    cache_key,
    generation_key,
    normalize_query,
    spellings,
)

BASE = "appAirscopeDemo01"


def test_equal_queries_share_a_key_whatever_the_order_and_unset_parameters() -> None:
    one = cache_key(
        "list_records", BASE, [0], {"table": "Orders", "fields": ["B", "A"], "filterByFormula": None}
    )
    two = cache_key(
        "list_records", BASE, [0], {"fields": ["A", "B", "A"], "table": "Orders", "sort_field": None}
    )
    assert one == two


@pytest.mark.parametrize(
    ("operation", "base", "generation", "query"),
    [
        ("get_record", BASE, [0], {"table": "Orders"}),
        ("list_records", "appOtherBase00001", [0], {"table": "Orders"}),
        ("list_records", BASE, [1], {"table": "Orders"}),
        ("list_records", BASE, [0], {"table": "Customers"}),
        ("list_records", BASE, [0], {"table": "Orders", "maxRecords": 5}),
        ("list_records", BASE, [0, 1], {"table": "Orders"}),
    ],
)
def test_anything_that_changes_the_answer_changes_the_key(
    operation: str, base: str, generation: list[int], query: dict
) -> None:
    assert cache_key(operation, base, generation, query) != cache_key(
        "list_records", BASE, [0], {"table": "Orders"}
    )


def test_keys_are_bounded_and_hold_no_raw_query() -> None:
    formula = 'SEARCH(LOWER("secret customer"), LOWER({Name}))' * 50
    key = cache_key("list_records", BASE, [3, 1], {"table": "Customers", "filterByFormula": formula})
    assert key.startswith("airtable-gateway:cache:list_records:")
    assert len(key) == len("airtable-gateway:cache:list_records:") + 64
    assert "secret" not in key and "Customers" not in key
    assert generation_key(BASE) == "airtable-gateway:generation:appAirscopeDemo01"
    table_key = generation_key(BASE, "Secret Customers / 2026")
    assert (
        table_key.startswith("airtable-gateway:generation:appAirscopeDemo01:") and "Secret" not in table_key
    )


def test_normalize_query_drops_unset_values_and_orders_lists() -> None:
    assert normalize_query({"a": None, "b": [], "c": ["y", "x"], "d": 3}) == {"c": ["x", "y"], "d": 3}


def _misses() -> float:
    labels = {"operation": "get_record", "result": "miss"}
    return REGISTRY.get_sample_value("airtable_cache_requests_total", labels) or 0.0


@pytest.mark.anyio
async def test_without_redis_every_read_is_a_miss_that_still_answers(free_port) -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1, socket_timeout=1)
    cache = ReadCache(redis, ttl_seconds=30)
    before = _misses()
    loads = []

    async def load() -> dict:
        loads.append(1)
        return {"id": "rec1"}

    for _ in range(2):
        assert await cache.get_or_load("get_record", BASE, {"table": "Orders", "record": "rec1"}, load) == {
            "id": "rec1"
        }
    await cache.invalidate(BASE)  # logged, not raised
    assert len(loads) == 2
    assert _misses() - before == 2
    await redis.aclose()


# -- with Redis: invalidation and single flight -------------------------------------------------

TABLES = [
    {"id": "tblOrders0000001", "name": "Orders"},
    {"id": "tblCustomers0001", "name": "Customers"},
]


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def base() -> str:
    """A base of the test's own: no other test's generations or entries share its keys."""
    return "app" + secrets.token_hex(7)


class Airtable:
    """Counts loads; each answer says which load made it, so a stale one is told apart."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.gate: asyncio.Event | None = None

    def loader(self, what: str):
        async def load() -> dict:
            self.loads.append(what)
            number = len(self.loads)
            if self.gate is not None:
                await self.gate.wait()
            return {"what": what, "load": number}

        return load


async def _records(cache: ReadCache, airtable: Airtable, base: str, table: str) -> dict:
    return await cache.get_or_load(
        "list_records", base, {"table": table}, airtable.loader(f"records:{table}"), table=table
    )


async def _tables(cache: ReadCache, airtable: Airtable, base: str) -> dict:
    async def load() -> dict:
        airtable.loads.append("tables")
        return {"tables": TABLES}

    return await cache.get_or_load("list_tables", base, {}, load)


def test_a_table_is_spelled_by_its_id_or_its_name() -> None:
    assert spellings(TABLES)["Orders"] == ("tblOrders0000001", "Orders")
    assert spellings(TABLES)["tblOrders0000001"] == ("tblOrders0000001", "Orders")


@pytest.mark.anyio
async def test_a_write_to_a_table_invalidates_its_reads_under_both_spellings_and_no_other_table(
    redis: Redis, base: str
) -> None:
    cache, airtable = ReadCache(redis, ttl_seconds=30), Airtable()
    await _tables(cache, airtable, base)  # the gateway has seen the base's tables
    by_name = await _records(cache, airtable, base, "Orders")
    by_id = await _records(cache, airtable, base, "tblOrders0000001")
    customers = await _records(cache, airtable, base, "Customers")
    assert await _records(cache, airtable, base, "Orders") == by_name  # cached

    await cache.invalidate(base, "Orders")

    assert await _records(cache, airtable, base, "Orders") != by_name
    assert await _records(cache, airtable, base, "tblOrders0000001") != by_id
    assert await _records(cache, airtable, base, "Customers") == customers
    assert await _tables(cache, airtable, base) == {"tables": TABLES}  # the schema did not change
    assert airtable.loads.count("tables") == 1


@pytest.mark.anyio
async def test_another_replica_learns_the_spellings_from_the_cached_table_list(
    redis: Redis, base: str
) -> None:
    airtable = Airtable()
    reader = ReadCache(redis, ttl_seconds=30)
    await _tables(reader, airtable, base)
    by_id = await _records(reader, airtable, base, "tblOrders0000001")

    await ReadCache(redis, ttl_seconds=30).invalidate(base, "Orders")  # a replica that never listed

    assert await _records(reader, airtable, base, "tblOrders0000001") != by_id


@pytest.mark.anyio
async def test_a_table_of_unknown_spellings_invalidates_the_whole_base(redis: Redis, base: str) -> None:
    cache, airtable = ReadCache(redis, ttl_seconds=30), Airtable()
    await _tables(cache, airtable, base)
    await cache.invalidate(base)  # a schema change: the table list seen before no longer holds
    customers = await _records(cache, airtable, base, "Customers")

    await cache.invalidate(base, "Orders")  # no spelling is known at the base's new generation

    assert await _records(cache, airtable, base, "Customers") != customers


@pytest.mark.anyio
async def test_identical_reads_in_flight_share_one_load(redis: Redis, base: str) -> None:
    cache, airtable = ReadCache(redis, ttl_seconds=30), Airtable()
    airtable.gate = asyncio.Event()
    before = _saved()

    readers = [asyncio.create_task(_records(cache, airtable, base, "Orders")) for _ in range(8)]
    other = asyncio.create_task(_records(cache, airtable, base, "Customers"))
    await asyncio.sleep(0.05)
    readers[0].cancel()  # the caller whose miss started the load leaves: the others still get it
    airtable.gate.set()
    answers = await asyncio.gather(*readers[1:], other)

    assert sorted(airtable.loads) == ["records:Customers", "records:Orders"]
    assert all(answer == answers[0] for answer in answers[:-1])
    assert _saved() - before == 7
    airtable.gate = None
    assert await _records(cache, airtable, base, "Orders") == answers[0]  # and it was cached


@pytest.mark.anyio
async def test_a_read_after_a_write_does_not_join_a_load_started_before_it(redis: Redis, base: str) -> None:
    cache, airtable = ReadCache(redis, ttl_seconds=30), Airtable()
    await _tables(cache, airtable, base)
    airtable.gate = asyncio.Event()
    before_write = asyncio.create_task(_records(cache, airtable, base, "Orders"))
    await asyncio.sleep(0.05)

    await cache.invalidate(base, "Orders")
    after_write = asyncio.create_task(_records(cache, airtable, base, "Orders"))
    await asyncio.sleep(0.05)
    airtable.gate.set()

    assert (await before_write)["load"] == 2
    assert (await after_write)["load"] == 3  # a load of its own, started after the write
    airtable.gate = None
    assert (await _records(cache, airtable, base, "Orders"))["load"] == 3  # the older answer was not kept


@pytest.mark.anyio
async def test_a_failed_load_fails_every_reader_in_flight_and_is_not_cached(redis: Redis, base: str) -> None:
    cache = ReadCache(redis, ttl_seconds=30)
    calls = []

    async def failing() -> dict:
        calls.append(1)
        await asyncio.sleep(0.05)
        raise RuntimeError("Airtable said no")

    readers = [
        cache.get_or_load("get_record", base, {"record": "rec1"}, failing, table="T") for _ in range(3)
    ]
    results = await asyncio.gather(*readers, return_exceptions=True)
    assert [type(result) for result in results] == [RuntimeError] * 3
    assert len(calls) == 1
    with pytest.raises(RuntimeError):
        await cache.get_or_load("get_record", base, {"record": "rec1"}, failing, table="T")
    assert len(calls) == 2


def _saved() -> float:
    return REGISTRY.get_sample_value("airtable_calls_saved_total", {"reason": "coalesced"}) or 0.0
