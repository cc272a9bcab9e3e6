"""Every setting of airtable-gateway, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import env_float, env_int, env_str


@dataclass(frozen=True)
class Config:
    api_url: str
    api_key: str
    redis_url: str
    cache_ttl_seconds: int
    # Airtable allows 5 requests per second per base; above that it answers 429 and asks for 30 s
    # of silence, so the client-side limiter must keep us under it rather than rely on retries.
    rate_limit_per_second: int
    timeout_seconds: float
    connect_timeout_seconds: float
    max_connections: int
    max_keepalive_connections: int
    max_attempts: int
    max_retry_wait_seconds: float

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            api_url=env_str("AIRTABLE_API_URL", "https://api.airtable.com").rstrip("/"),
            api_key=env_str("AIRTABLE_API_KEY"),
            redis_url=env_str("REDIS_URL"),
            cache_ttl_seconds=env_int("AIRTABLE_CACHE_TTL_SECONDS", 30, minimum=1),
            rate_limit_per_second=env_int("AIRTABLE_RATE_LIMIT_PER_SECOND", 5, minimum=1),
            timeout_seconds=env_float("AIRTABLE_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            connect_timeout_seconds=env_float("AIRTABLE_CONNECT_TIMEOUT_SECONDS", 3.0, minimum=0.1),
            max_connections=env_int("AIRTABLE_MAX_CONNECTIONS", 20, minimum=1),
            max_keepalive_connections=env_int("AIRTABLE_MAX_KEEPALIVE_CONNECTIONS", 10, minimum=0),
            max_attempts=env_int("AIRTABLE_MAX_ATTEMPTS", 3, minimum=1),
            max_retry_wait_seconds=env_float("AIRTABLE_MAX_RETRY_WAIT_SECONDS", 10.0, minimum=0),
        )
