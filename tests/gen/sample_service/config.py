"""Every setting of sample-service, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field

from airscope.services.common.config import URL, EnvSettings, service_url_field


class Config(EnvSettings):
    """sample-service's settings."""

    greeting: str = Field("hello", validation_alias="SAMPLE_GREETING")
    """What the service says before each name."""
    max_name_length: int = Field(40, ge=1, validation_alias="SAMPLE_MAX_NAME_LENGTH")
    """Names longer than this are refused with 422."""
    platform_url: URL = service_url_field("platform-services")
