"""Configuration from the environment (12-factor): each service's settings are one ``EnvSettings``
model in its ``config.py``, a field per variable with its type, default and description
(docs/reference.md is generated from them).

Services read everything in ``create_app()``, so a bad value stops the process at start-up with a
message that says which variable to fix, instead of failing the first request that needs it.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from airscope import catalog
from airscope.telemetry import ConfigError, EnvSettings


def _without_trailing_slash(url: str) -> str:
    return url.rstrip("/")


# A base URL, kept without its trailing slash so that paths can be appended.
URL = Annotated[str, AfterValidator(_without_trailing_slash), Field(json_schema_extra={"kind": "URL"})]


def _catalog_url(service: str) -> str:
    return f"http://127.0.0.1:{catalog.load().service(service).port}"


def service_url_field(service: str) -> Any:
    """A field holding the base URL of catalog service ``service`` (``AIRSCOPE_URL_<NAME>``)."""
    return Field(
        default_factory=lambda: _catalog_url(service),
        validation_alias=f"AIRSCOPE_URL_{catalog.env_name(service)}",
        description=f"Base URL of {service}.",
    )


class ServiceLocation(EnvSettings):
    """Where another catalog service is: `<NAME>` is its catalog name in upper case with `_` for `-`."""

    url: URL | None = Field(None, validation_alias="AIRSCOPE_URL_<NAME>")
    """Base URL of the service `<NAME>` (local mode and compose set it); unset: `http://127.0.0.1:<catalog
    port>`."""


def service_url(name: str) -> str:
    """Base URL of another catalog service: ``AIRSCOPE_URL_<NAME>``, else its catalog port on 127.0.0.1."""
    read = ServiceLocation.templated(NAME=catalog.env_name(name)).from_env()
    return read.url or _catalog_url(name)


def env_str(name: str, default: str | None = None) -> str:
    """The variable's value; without a default, an unset or empty variable is an error."""
    value = os.environ.get(name, "")
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is not set")
    return default


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value
