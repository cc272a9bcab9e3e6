"""mcp-server's configuration, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import env_float, env_str, service_url

# DNS-rebinding protection: a web page in a local browser must not reach the server through a
# rebound name. Deployments behind a load balancer list their own host names, or `*`.
DEFAULT_ALLOWED_HOSTS = "127.0.0.1:*,localhost:*,[::1]:*"


@dataclass(frozen=True)
class Config:
    airtable_gateway_url: str
    gateway_timeout_seconds: float
    # None: any Host header is accepted (MCP_ALLOWED_HOSTS=*).
    allowed_hosts: tuple[str, ...] | None

    @classmethod
    def from_env(cls) -> Config:
        hosts = env_str("MCP_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS).strip()
        return cls(
            airtable_gateway_url=service_url("airtable-gateway"),
            gateway_timeout_seconds=env_float("MCP_GATEWAY_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            allowed_hosts=None
            if hosts == "*"
            else tuple(host.strip() for host in hosts.split(",") if host.strip()),
        )
