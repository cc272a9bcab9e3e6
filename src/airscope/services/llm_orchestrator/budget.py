"""The daily LLM budget: today's spend (UTC) in Redis, shared by every replica."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator import metrics

KEY_PREFIX = "llm:budget:spent:"
# A day's key outlives its day a little, so a replica whose clock lags still finds it.
KEY_TTL_SECONDS = 2 * 24 * 3600


def _next_midnight(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


class Budget:
    def __init__(
        self, redis: Any, limit_usd: float, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.redis = redis
        self.limit_usd = limit_usd
        self.clock = clock

    def _key(self) -> str:
        return KEY_PREFIX + self.clock().date().isoformat()

    async def spent_today(self) -> float:
        raw = await self.redis.get(self._key())
        spent = float(raw) if raw is not None else 0.0
        metrics.LLM_BUDGET_SPENT.set(spent)
        return spent

    async def ensure_available(self) -> None:
        """Refuses a new chat once today's spend reached the limit.

        Checked once per chat, before its first provider call: a chat in progress finishes, so
        the day's spend can pass the limit by at most the cost of the chats running at that moment.
        """
        spent = await self.spent_today()
        if spent < self.limit_usd:
            return
        now = self.clock()
        reset = _next_midnight(now)
        seconds = max(1, math.ceil((reset - now).total_seconds()))
        hours, minutes = divmod(math.ceil(seconds / 60), 60)
        raise ServiceError(
            429,
            "budget_exhausted",
            f"the daily LLM budget of ${self.limit_usd:.2f} is spent (${spent:.4f} today); it resets at "
            f"00:00 UTC ({reset.isoformat()}), in {hours} h {minutes} min",
            headers={"Retry-After": str(seconds)},
        )

    async def record(self, cost_usd: float) -> None:
        if cost_usd <= 0:
            return
        key = self._key()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrbyfloat(key, cost_usd)
            pipe.expire(key, KEY_TTL_SECONDS)
            spent, _ = await pipe.execute()
        metrics.LLM_BUDGET_SPENT.set(float(spent))
