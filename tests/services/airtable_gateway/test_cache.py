"""Cache keys (normalized, hashed, generation-scoped) and a cache that degrades to misses without Redis."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from airscope.services.airtable_gateway.cache import ReadCache, cache_key, generation_key, normalize_query

BASE = "appAirscopeDemo01"


def test_equal_queries_share_a_key_whatever_the_order_and_unset_parameters() -> None:
    one = cache_key(
        "list_records", BASE, 0, {"table": "Orders", "fields": ["B", "A"], "filterByFormula": None}
    )
    two = cache_key(
        "list_records", BASE, 0, {"fields": ["A", "B", "A"], "table": "Orders", "sort_field": None}
    )
    assert one == two


@pytest.mark.parametrize(
    ("operation", "base", "generation", "query"),
    [
        ("get_record", BASE, 0, {"table": "Orders"}),
        ("list_records", "appOtherBase00001", 0, {"table": "Orders"}),
        ("list_records", BASE, 1, {"table": "Orders"}),
        ("list_records", BASE, 0, {"table": "Customers"}),
        ("list_records", BASE, 0, {"table": "Orders", "maxRecords": 5}),
    ],
)
def test_anything_that_changes_the_answer_changes_the_key(
    operation: str, base: str, generation: int, query: dict
) -> None:
    assert cache_key(operation, base, generation, query) != cache_key(
        "list_records", BASE, 0, {"table": "Orders"}
    )


def test_keys_are_bounded_and_hold_no_raw_query() -> None:
    formula = 'SEARCH(LOWER("secret customer"), LOWER({Name}))' * 50
    key = cache_key("list_records", BASE, 3, {"table": "Customers", "filterByFormula": formula})
    assert key.startswith("airtable-gateway:cache:list_records:")
    assert len(key) == len("airtable-gateway:cache:list_records:") + 64
    assert "secret" not in key and "Customers" not in key
    assert generation_key(BASE) == "airtable-gateway:generation:appAirscopeDemo01"


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
