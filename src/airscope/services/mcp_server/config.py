"""mcp-server's configuration, read from the environment in one place."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from airscope.services.common.config import URL, EnvSettings, service_url_field

DEFAULT_ALLOWED_HOSTS = "127.0.0.1:*,localhost:*,[::1]:*"


def _hosts(raw: object) -> tuple[str, ...] | None:
    """``*``: any Host header (None); else the comma-separated host patterns."""
    if not isinstance(raw, str):
        return raw  # type: ignore[return-value]  # already parsed: a tuple, or None
    if raw.strip() == "*":
        return None
    return tuple(host.strip() for host in raw.split(",") if host.strip())


class Config(EnvSettings):
    """mcp-server's settings."""

    airtable_gateway_url: URL = service_url_field("airtable-gateway")
    gateway_timeout_seconds: float = Field(30.0, ge=0.1, validation_alias="MCP_GATEWAY_TIMEOUT_SECONDS")
    """One call to airtable-gateway."""
    # None: any Host header is accepted (MCP_ALLOWED_HOSTS=*).
    allowed_hosts: Annotated[tuple[str, ...] | None, NoDecode, BeforeValidator(_hosts)] = Field(
        DEFAULT_ALLOWED_HOSTS, validate_default=True, validation_alias="MCP_ALLOWED_HOSTS"
    )
    """Host headers accepted, comma-separated (`host:*` for any port), or `*` for any. DNS-rebinding
    protection: a web page in a local browser must not reach the server through a rebound name.
    Deployments behind a load balancer list their own host names, or `*`."""
