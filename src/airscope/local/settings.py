"""Local mode's environment as pydantic-settings models: what ``airscope`` itself reads (``make up`` and
the other commands), with a type, a default and a description per variable; docs/reference.md is
generated from them. Sizes and durations are read in ``airscope.units``' one grammar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from airscope import units
from airscope.telemetry import EnvSettings

HOME_ENV = "AIRSCOPE_HOME"
API_KEY_ENV = "AIRSCOPE_API_KEY"
JWT_SECRET_ENV = "AIRSCOPE_JWT_SECRET"
LOG_MAX_BYTES_ENV = "AIRSCOPE_LOG_MAX_BYTES"
LOG_MAX_AGE_ENV = "AIRSCOPE_LOG_MAX_AGE"
PORT_ENV = "AIRSCOPE_PORT_<NAME>"
NO_COLOR_ENV = "NO_COLOR"
GATEWAY_URL_ENV = "AIRSCOPE_GATEWAY_URL"
ALERTMANAGER_URL_ENV = "AIRSCOPE_ALERTMANAGER_URL"
PROMETHEUS_URL_ENV = "AIRSCOPE_PROMETHEUS_URL"
LOKI_URL_ENV = "AIRSCOPE_LOKI_URL"
TEMPO_URL_ENV = "AIRSCOPE_TEMPO_URL"
TENANT_ENV = "AIRSCOPE_TENANT"


def _parsed(parse: Callable[[str], object]) -> BeforeValidator:
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


# Bytes, written as a size (`50MiB`); seconds, written as a duration (`7d`).
Size = Annotated[int, _parsed(units.parse_size), Field(json_schema_extra={"kind": "size"})]
Duration = Annotated[float, _parsed(units.parse_duration), Field(json_schema_extra={"kind": "duration"})]


class LocalSettings(EnvSettings):
    """What local mode reads."""

    home: Path | None = Field(None, validation_alias=HOME_ENV)
    """Where local mode keeps everything (see [Data locations](#data-locations)); unset: `var/` in the
    checkout."""
    api_key: str | None = Field(None, repr=False, validation_alias=API_KEY_ENV)
    """The key the gateway accepts in X-API-Key; `airscope load` and `airscope bench` send it. Unset:
    generated once into `$AIRSCOPE_HOME/api-key`."""
    jwt_secret: str | None = Field(None, repr=False, validation_alias=JWT_SECRET_ENV)
    """Signs and verifies login tokens (platform-services issues them, the gateway checks them). Unset:
    generated once into `$AIRSCOPE_HOME/secrets/jwt`."""
    log_max_bytes: Size = Field("50MiB", validate_default=True, validation_alias=LOG_MAX_BYTES_ENV)
    """Rotated logs kept per program, current file included (oldest deleted first at each `up`): 5 of
    supervisord's 10 MiB files."""
    log_max_age: Duration = Field("7d", validate_default=True, validation_alias=LOG_MAX_AGE_ENV)
    """Rotated logs older than this are deleted at each `up`: a week of history for a local machine, whatever
    the traffic."""
    no_color: str | None = Field(None, validation_alias=NO_COLOR_ENV)
    """Set (to anything): `airscope logs` and `airscope traces` print without colours."""


class OperatorSettings(EnvSettings):
    """Where the operators' commands act: the local platform unless these name production's."""

    gateway_url: str | None = Field(None, validation_alias=GATEWAY_URL_ENV)
    """The api-gateway `airscope sagas`, `jobs` and `users` call (with the API key); unset: the local
    one."""
    alertmanager_url: str | None = Field(None, validation_alias=ALERTMANAGER_URL_ENV)
    """The Alertmanager `airscope silence`, `airscope alerts test` and `airscope mcp` talk to; unset: the
    local one."""
    prometheus_url: str | None = Field(None, validation_alias=PROMETHEUS_URL_ENV)
    """The Prometheus API `airscope mcp` reads (Mimir's is `http://mimir:9009/prometheus`); unset: the
    local one."""
    loki_url: str | None = Field(None, validation_alias=LOKI_URL_ENV)
    """The Loki `airscope mcp` reads logs from; unset: the local log files."""
    tempo_url: str | None = Field(None, validation_alias=TEMPO_URL_ENV)
    """The Tempo `airscope mcp` reads traces from; unset: the local span files."""
    tenant: str | None = Field(None, validation_alias=TENANT_ENV)
    """The tenant `airscope mcp` sends as `X-Scope-OrgID` to Mimir, Loki and Tempo when they are
    multi-tenant; unset: none."""


class PortSettings(EnvSettings):
    """One program's port: `<NAME>` is its name in [Ports](#ports) in upper case with `_` for `-`."""

    port: int | None = Field(None, ge=1, le=65535, validation_alias=PORT_ENV)
    """Moves one program's port, e.g. `AIRSCOPE_PORT_POSTGRES`, `AIRSCOPE_PORT_API_GATEWAY`; unset: the port
    in [Ports](#ports)."""
