"""The daily budget against a real Redis: spend adds up per UTC day, a spent budget refuses with 429."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio

from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator.budget import KEY_PREFIX, Budget

pytestmark = [pytest.mark.infra, pytest.mark.anyio]

NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client(redis_server):
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.delete(KEY_PREFIX + "2026-03-14", KEY_PREFIX + "2026-03-15")
    yield client
    await client.aclose()


async def test_spend_adds_up_and_the_key_expires(client) -> None:
    budget = Budget(client, 1.0, clock=lambda: NOON)
    assert await budget.spent_today() == 0
    await budget.record(0.25)
    await budget.record(0.5)
    assert await budget.spent_today() == pytest.approx(0.75)
    assert 0 < await client.ttl(KEY_PREFIX + "2026-03-14") <= 2 * 24 * 3600
    await budget.ensure_available()


async def test_spent_budget_refuses_and_says_when_it_resets(client) -> None:
    budget = Budget(client, 0.5, clock=lambda: NOON)
    await budget.record(0.5)
    with pytest.raises(ServiceError) as refused:
        await budget.ensure_available()
    assert (refused.value.status, refused.value.code) == (429, "budget_exhausted")
    assert "00:00 UTC" in refused.value.message and "in 12 h 0 min" in refused.value.message
    assert refused.value.headers["Retry-After"] == str(12 * 3600)


async def test_a_new_day_starts_from_zero(client) -> None:
    await Budget(client, 0.5, clock=lambda: NOON).record(0.5)
    tomorrow = Budget(client, 0.5, clock=lambda: datetime(2026, 3, 15, 0, 0, 1, tzinfo=UTC))
    assert await tomorrow.spent_today() == 0
    await tomorrow.ensure_available()
