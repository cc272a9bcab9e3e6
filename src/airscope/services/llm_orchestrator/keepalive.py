"""The platform's keep-alive policy (``common.http_clients``) for this service's httpx2 clients.

The openai and mcp SDKs run on httpx2, whose ``Limits`` has httpx's fields but is its own class:
the policy's limits are copied over, so an idle connection leaves the pool before a uvicorn
server on the other side closes it (the race the policy exists for).
"""

from __future__ import annotations

import httpx2

from airscope.services.common import http_clients


def limits(max_connections: int, max_keepalive_connections: int) -> httpx2.Limits:
    policy = http_clients.limits(max_connections, max_keepalive_connections)
    return httpx2.Limits(
        max_connections=policy.max_connections,
        max_keepalive_connections=policy.max_keepalive_connections,
        keepalive_expiry=policy.keepalive_expiry,
    )


def timeout(seconds: float) -> httpx2.Timeout:
    """``seconds`` for a whole answer, with the policy's short connect timeout."""
    return httpx2.Timeout(seconds, connect=min(http_clients.CONNECT_TIMEOUT_SECONDS, seconds))
