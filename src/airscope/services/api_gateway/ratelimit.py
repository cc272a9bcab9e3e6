"""A token bucket per client, kept in Redis so that every gateway replica draws from the same bucket.

One Lua script reads, refills, takes and writes the bucket atomically (no race between replicas),
on Redis's clock (no skew between them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis.asyncio as redis

from airscope.services.api_gateway.metrics import RATE_LIMITER_ERRORS
from airscope.telemetry import get_logger

log = get_logger(__name__)

KEY_PREFIX = "gateway:ratelimit:"

# KEYS[1] the bucket; ARGV[1] refill rate (tokens/s), ARGV[2] capacity.
# Returns {allowed (0|1), seconds until a token is there (as a string: Lua numbers become integers)}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- A bucket left alone until it is full again is the same as no bucket: let Redis drop it.
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the next token; 0 when allowed

    @property
    def retry_after_header(self) -> str:
        """Retry-After takes whole seconds; rounding down would invite a retry that fails again."""
        return str(max(1, math.ceil(self.retry_after)))


ALLOW = Decision(True, 0.0)


class RateLimiter:
    def __init__(self, client: redis.Redis, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._script = client.register_script(TOKEN_BUCKET)
        self._failing = False

    async def take(self, client_id: str) -> Decision:
        """Takes one token from the client's bucket.

        Fails open: when Redis cannot answer, the request goes through. The limiter protects the
        upstreams from one client's excess; refusing everybody because the limiter's store is down
        would turn a Redis outage into a full API outage. The outage stays visible: a warning when it
        starts, gateway_rate_limiter_errors_total per request let through, and the redis check that
        fails /health and /health/ready.
        """
        try:
            allowed, wait = await self._script(keys=[KEY_PREFIX + client_id], args=[self.rate, self.burst])
        except (redis.RedisError, OSError) as exc:
            RATE_LIMITER_ERRORS.inc()
            if not self._failing:
                self._failing = True
                log.warning("rate limiter unavailable, letting requests through", error=type(exc).__name__)
            return ALLOW
        if self._failing:
            self._failing = False
            log.info("rate limiter available again")
        return ALLOW if allowed else Decision(False, float(wait))
