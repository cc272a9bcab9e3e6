"""Configuration from the environment (12-factor): each service's settings are one ``EnvSettings``
model in its ``config.py``, a field per variable with its type, default and description
(docs/reference.md is generated from them).

Services read everything in ``create_app()``, so a bad value stops the process at start-up with a
message that says which variable to fix, instead of failing the first request that needs it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from airscope import catalog
from airscope.telemetry import ConfigError, EnvSettings

# ConfigError and EnvSettings are the kit's: the services take them from here, with the rest.
__all__ = ["URL", "ConfigError", "EnvSettings", "ServiceLocation", "service_url_field"]


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
