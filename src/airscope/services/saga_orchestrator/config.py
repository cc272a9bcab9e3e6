"""Every setting of saga-orchestrator, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import env_float, env_int, env_str, service_url


@dataclass(frozen=True)
class Config:
    database_url: str
    # One attempt of one step (an HTTP call to another service) may take this long.
    step_timeout_seconds: float
    # Attempts of a step before the saga gives up and compensates; only transient failures retry.
    step_max_attempts: int
    # Attempts of a compensation before the saga ends `failed` and needs a person.
    compensation_max_attempts: int
    # How long a process owns the sagas it runs without renewing its claim (it renews every third
    # of it); a saga whose owner stopped renewing (crashed) is resumed by any live process after it.
    lease_seconds: float
    platform_url: str
    airtable_gateway_url: str
    automation_url: str

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            database_url=env_str("DATABASE_URL"),
            step_timeout_seconds=env_float("SAGA_STEP_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            step_max_attempts=env_int("SAGA_STEP_MAX_ATTEMPTS", 3, minimum=1),
            compensation_max_attempts=env_int("SAGA_COMPENSATION_MAX_ATTEMPTS", 5, minimum=1),
            lease_seconds=env_float("SAGA_LEASE_SECONDS", 30.0, minimum=1.0),
            platform_url=service_url("platform-services"),
            airtable_gateway_url=service_url("airtable-gateway"),
            automation_url=service_url("automation-services"),
        )
