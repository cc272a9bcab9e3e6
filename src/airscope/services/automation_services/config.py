"""Every setting of automation-services, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field

from airscope.services.common.config import URL, EnvSettings, service_url_field

# Airtable creates at most 10 records per request; a larger batch would be rejected whole.
AIRTABLE_MAX_BATCH = 10


class Config(EnvSettings):
    """automation-services' settings."""

    database_url: str = Field(validation_alias="DATABASE_URL")
    """Its PostgreSQL database (jobs, runs)."""
    redis_url: str = Field(validation_alias="REDIS_URL")
    """The Redis that holds the job queues."""
    airtable_gateway_url: URL = service_url_field("airtable-gateway")
    platform_url: URL = service_url_field("platform-services")
    max_upload_bytes: int = Field(5 * 1024 * 1024, ge=1, validation_alias="AUTOMATION_MAX_UPLOAD_BYTES")
    """The largest import file."""
    batch_size: int = Field(
        AIRTABLE_MAX_BATCH, ge=1, le=AIRTABLE_MAX_BATCH, validation_alias="AUTOMATION_BATCH_SIZE"
    )
    """Records created per request; Airtable creates at most 10 per request and rejects a larger batch
    whole."""
    max_job_attempts: int = Field(3, ge=1, validation_alias="AUTOMATION_MAX_JOB_ATTEMPTS")
    """Attempts of a job before it fails."""
    retry_backoff_seconds: float = Field(5.0, ge=0, validation_alias="AUTOMATION_RETRY_BACKOFF_SECONDS")
    """The wait before the n-th retry is this times 2**(n-1)."""
    workers: int = Field(1, ge=1, validation_alias="AUTOMATION_WORKERS")
    """Workers per queue (imports, workflow runs)."""
    record_count_interval_seconds: int = Field(
        300, ge=5, validation_alias="AUTOMATION_RECORD_COUNT_INTERVAL_SECONDS"
    )
    """How often the built-in record-count workflow runs."""
    record_count_base_id: str = Field("appAirscopeDemo01", validation_alias="AUTOMATION_RECORD_COUNT_BASE_ID")
    """The base the built-in record-count workflow counts (the stand-in's demo base by default)."""
    gateway_timeout_seconds: float = Field(
        30.0, ge=0.1, validation_alias="AUTOMATION_GATEWAY_TIMEOUT_SECONDS"
    )
    """One call to airtable-gateway."""
