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
    """Beacons per second each client address may send."""
    rum_burst: int = Field(20, ge=1, validation_alias="FRONTEND_RUM_BURST")
    """Beacons each client address may send at once."""
    rum_max_clients: int = Field(10000, ge=1, validation_alias="FRONTEND_RUM_MAX_CLIENTS")
    """Client addresses whose buckets are kept; the least recently seen is forgotten beyond that."""
