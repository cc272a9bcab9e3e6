"""Every setting of the frontend, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field

from airscope.services.common.config import URL, EnvSettings, service_url_field

SERVICE = "frontend"


class Config(EnvSettings):
    """The frontend's settings."""

    gateway_url: URL = service_url_field("api-gateway")
    gateway_timeout: float = Field(70.0, ge=0.001, validation_alias="FRONTEND_GATEWAY_TIMEOUT_SECONDS")
    """Above the gateway's own 60 s for chat, so that the gateway's 504 (which names the slow service)
    reaches the page instead of a less precise one from here."""
    rum_rate_per_second: float = Field(1.0, ge=0.001, validation_alias="FRONTEND_RUM_RATE_PER_SECOND")
    """Faro payloads (POST /faro/collect) per second each client address may send."""
    rum_burst: int = Field(20, ge=1, validation_alias="FRONTEND_RUM_BURST")
    """Faro payloads each client address may send at once."""
    rum_max_clients: int = Field(10000, ge=1, validation_alias="FRONTEND_RUM_MAX_CLIENTS")
    """Client addresses whose buckets are kept; the least recently seen is forgotten beyond that."""
    faro_forward_url: URL | None = Field(None, validation_alias="FRONTEND_FARO_FORWARD_URL")
    """Where accepted Faro payloads are forwarded as received (production: Alloy's faro.receiver,
    http://alloy:12347/collect); unset, the frontend keeps them to itself (metrics, log, span file)."""
    faro_forward_queue_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, validation_alias="FRONTEND_FARO_FORWARD_QUEUE_BYTES"
    )
    """Payload bytes waiting to be forwarded at most; beyond that a payload is dropped and counted."""
    faro_forward_timeout: float = Field(
        5.0, ge=0.001, validation_alias="FRONTEND_FARO_FORWARD_TIMEOUT_SECONDS"
    )
    """How long one forwarding POST may take before it is dropped and counted."""
