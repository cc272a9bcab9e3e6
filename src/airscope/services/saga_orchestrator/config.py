"""Every setting of saga-orchestrator, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field

from airscope.services.common.config import URL, EnvSettings, service_url_field


class Config(EnvSettings):
    """saga-orchestrator's settings."""

    database_url: str = Field(validation_alias="DATABASE_URL")
    """Its PostgreSQL database (the sagas)."""
    step_timeout_seconds: float = Field(10.0, ge=0.1, validation_alias="SAGA_STEP_TIMEOUT_SECONDS")
    """One attempt of one step (an HTTP call to another service) may take this long."""
    step_max_attempts: int = Field(3, ge=1, validation_alias="SAGA_STEP_MAX_ATTEMPTS")
    """Attempts of a step before the saga gives up and compensates; only transient failures retry."""
    compensation_max_attempts: int = Field(5, ge=1, validation_alias="SAGA_COMPENSATION_MAX_ATTEMPTS")
    """Attempts of a compensation before the saga ends `failed` and needs a person."""
    lease_seconds: float = Field(30.0, ge=1.0, validation_alias="SAGA_LEASE_SECONDS")
    """How long a process owns the sagas it runs without renewing its claim (it renews every third of it); a
    saga whose owner stopped renewing (crashed) is resumed by any live process after it."""
    platform_url: URL = service_url_field("platform-services")
    airtable_gateway_url: URL = service_url_field("airtable-gateway")
    automation_url: URL = service_url_field("automation-services")
