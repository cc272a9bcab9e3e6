"""The stand-ins' environment, as pydantic-settings models: a type, a default and a description per
variable (docs/reference.md can be generated from them), read in each stand-in's ``create_app()``.

An empty variable counts as unset (local mode and the tests clear a variable by setting it empty).
A value a stand-in cannot use stops it at start-up with an ``AirscopeError`` naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from airscope.errors import AirscopeError
from airscope.telemetry import ENVIRONMENT, PRODUCTION

# Each field's docstring is its description.
_CONFIG = SettingsConfigDict(
    env_ignore_empty=True, extra="ignore", populate_by_name=True, use_attribute_docstrings=True
)


class FaultSettings(BaseSettings):
    """What both stand-ins' fault switch reads (``airscope.standins.faults``)."""

    model_config = _CONFIG

    latency_ms: float = Field(0.0, ge=0, validation_alias="STANDIN_LATENCY_MS")
    """Base latency of every API request (not the admin API), in milliseconds."""


class AirtableSettings(BaseSettings):
    """The Airtable stand-in's environment."""

    model_config = _CONFIG

    db: Path | None = Field(None, validation_alias="STANDIN_AIRTABLE_DB")
    """The SQLite file; default `$AIRSCOPE_HOME/data/standins/airtable.sqlite` when AIRSCOPE_HOME is
    set, else a file in a temporary directory removed at exit."""
    home: Path | None = Field(None, validation_alias="AIRSCOPE_HOME")
    """Local mode's home: the default SQLite file lives under it."""
    rate_limit: int = Field(5, ge=0, validation_alias="STANDIN_AIRTABLE_RATE_LIMIT")
    """Requests per second per base before 429 (Airtable's 5); 0 turns the limit off."""
    token: str | None = Field(None, validation_alias="STANDIN_AIRTABLE_TOKEN")
    """When set, the only bearer token accepted; else any bearer token is."""

    @property
    def db_path(self) -> Path | None:
        if self.db is None and self.home is not None:
            return self.home / "data" / "standins" / "airtable.sqlite"
        return self.db


class LlmSettings(BaseSettings):
    """The LLM stand-in's environment."""

    model_config = _CONFIG

    api_key: str | None = Field(None, validation_alias="STANDIN_LLM_API_KEY")
    """When set, the only API key accepted; else any bearer key is."""


_Settings = TypeVar("_Settings", bound=BaseSettings)


def load(model: type[_Settings]) -> _Settings:
    """The model read from the environment; a bad value raises an error naming the variable."""
    try:
        return model()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}={error.get('input')!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise AirscopeError(f"stand-in configuration: {problems}; fix or unset the variable") from None


def refuse_production() -> None:
    """Raises when the environment is production: stand-ins and their fault switch are dev tooling."""
    # AIRSCOPE_ENVIRONMENT, the telemetry kit's: `production` (compose sets it) refuses the stand-ins.
    if os.environ.get(ENVIRONMENT, "") == PRODUCTION:
        raise AirscopeError(
            f"{ENVIRONMENT}={PRODUCTION}: the dev stand-ins (and their /_admin/faults switch) refuse to "
            "start in production; point the services at the real API instead"
        )
