"""Every setting of airtable-gateway, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field

from airscope.services.common.config import URL, EnvSettings


class Config(EnvSettings):
    """airtable-gateway's settings."""

    api_url: URL = Field("https://api.airtable.com", validation_alias="AIRTABLE_API_URL")
    """Base URL of the Airtable API."""
    api_key: str = Field(repr=False, validation_alias="AIRTABLE_API_KEY")
    """Airtable personal access token, sent as a bearer token."""
    redis_url: str = Field(validation_alias="REDIS_URL")
    """The Redis that holds the response cache."""
    cache_ttl_seconds: int = Field(30, ge=1, validation_alias="AIRTABLE_CACHE_TTL_SECONDS")
    """How long a cached answer is served."""
    rate_limit_per_second: int = Field(5, ge=1, validation_alias="AIRTABLE_RATE_LIMIT_PER_SECOND")
    """Airtable allows 5 requests per second per base; above that it answers 429 and asks for 30 s of
    silence, so the client-side limiter must keep us under it rather than rely on retries."""
    timeout_seconds: float = Field(10.0, ge=0.1, validation_alias="AIRTABLE_TIMEOUT_SECONDS")
    """One attempt of a request to Airtable."""
    connect_timeout_seconds: float = Field(3.0, ge=0.1, validation_alias="AIRTABLE_CONNECT_TIMEOUT_SECONDS")
    """Connecting to Airtable."""
    max_connections: int = Field(20, ge=1, validation_alias="AIRTABLE_MAX_CONNECTIONS")
    """Connections open to Airtable at once."""
    max_keepalive_connections: int = Field(10, ge=0, validation_alias="AIRTABLE_MAX_KEEPALIVE_CONNECTIONS")
    """Idle connections kept open for the next request."""
    max_attempts: int = Field(3, ge=1, validation_alias="AIRTABLE_MAX_ATTEMPTS")
    """Attempts of one request: a 429 is retried for every method; 5xx answers, timeouts and unreachable
    hosts only for reads (a write may have taken effect)."""
    max_retry_wait_seconds: float = Field(10.0, ge=0, validation_alias="AIRTABLE_MAX_RETRY_WAIT_SECONDS")
    """The total time one request may spend backing off between attempts; the next wait would pass it: the
    error is answered instead."""
    request_deadline_seconds: float = Field(8.0, gt=0, validation_alias="AIRTABLE_REQUEST_DEADLINE_SECONDS")
    """The longest one request may take, its limiter wait, attempts and back-off included: past it the
    request is stopped and answered 504 ``airtable_deadline``. Below every caller's timeout (the
    api-gateway's and a saga step's 10 s), so no call goes on for a caller that has left."""
    write_batch_window_ms: float = Field(
        5.0, ge=0, le=1000, validation_alias="AIRTABLE_WRITE_BATCH_WINDOW_MS"
    )
    """How long the first create or update of a table waits for others to the same table, to send them
    in one request of up to 10 records (Airtable's 5 requests/s per base count requests, not records);
    0 sends each write alone."""
