"""Every setting of sample-service, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import env_int, env_str, service_url


@dataclass(frozen=True)
class Config:
    # What the service says before each name.
    greeting: str
    # Names longer than this are refused with 422.
    max_name_length: int
    platform_url: str

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            greeting=env_str("SAMPLE_GREETING", "hello"),
            max_name_length=env_int("SAMPLE_MAX_NAME_LENGTH", 40, minimum=1),
            platform_url=service_url("platform-services"),
        )
