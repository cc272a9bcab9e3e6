"""Every setting of automation-services, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import ConfigError, env_float, env_int, env_str, service_url

# Airtable creates at most 10 records per request; a larger batch would be rejected whole.
AIRTABLE_MAX_BATCH = 10


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str
    airtable_gateway_url: str
    max_upload_bytes: int
    batch_size: int
    max_job_attempts: int
    # The wait before the n-th retry is retry_backoff_seconds * 2**(n-1).
    retry_backoff_seconds: float
    workers: int
    record_count_interval_seconds: int
    # The base the built-in record-count workflow counts (the stand-in's demo base by default).
    record_count_base_id: str
    gateway_timeout_seconds: float

    @classmethod
    def from_env(cls) -> Config:
        batch_size = env_int("AUTOMATION_BATCH_SIZE", AIRTABLE_MAX_BATCH, minimum=1)
        if batch_size > AIRTABLE_MAX_BATCH:
            raise ConfigError(
                f"AUTOMATION_BATCH_SIZE={batch_size} is above Airtable's limit of {AIRTABLE_MAX_BATCH} records"
            )
        return cls(
            database_url=env_str("DATABASE_URL"),
            redis_url=env_str("REDIS_URL"),
            airtable_gateway_url=service_url("airtable-gateway"),
            max_upload_bytes=env_int("AUTOMATION_MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1),
            batch_size=batch_size,
            max_job_attempts=env_int("AUTOMATION_MAX_JOB_ATTEMPTS", 3, minimum=1),
            retry_backoff_seconds=env_float("AUTOMATION_RETRY_BACKOFF_SECONDS", 5.0, minimum=0),
            workers=env_int("AUTOMATION_WORKERS", 1, minimum=1),
            record_count_interval_seconds=env_int("AUTOMATION_RECORD_COUNT_INTERVAL_SECONDS", 300, minimum=5),
            record_count_base_id=env_str("AUTOMATION_RECORD_COUNT_BASE_ID", "appAirscopeDemo01"),
            gateway_timeout_seconds=env_float("AUTOMATION_GATEWAY_TIMEOUT_SECONDS", 30.0, minimum=0.1),
        )
