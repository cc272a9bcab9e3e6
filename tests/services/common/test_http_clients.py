"""The one policy of internal clients: an idle connection is dropped before the server can close it,
and the clients of the gateway, saga-orchestrator, frontend and automation-services follow it."""

from __future__ import annotations

import pytest
import uvicorn

from airscope.services.api_gateway.app import UPSTREAM_LIMITS
from airscope.services.common import http_clients
from airscope.services.frontend.app import GATEWAY_LIMITS

# The event loop of a loaded client may lag this long between taking a connection from its pool
# and sending on it.
MARGIN_SECONDS = 2.0


def test_the_policy_expires_idle_connections_well_before_uvicorn_closes_them():
    server_keep_alive = uvicorn.Config("airscope.services.api_gateway:create_app").timeout_keep_alive
    assert server_keep_alive == http_clients.SERVER_KEEPALIVE_SECONDS
    assert server_keep_alive >= http_clients.KEEPALIVE_EXPIRY_SECONDS + MARGIN_SECONDS


@pytest.mark.anyio
async def test_an_internal_client_has_the_policy_and_a_short_connect_timeout():
    async with http_clients.internal_client(timeout=30.0, max_connections=7) as client:
        assert client.timeout.read == 30.0
        assert client.timeout.connect == http_clients.CONNECT_TIMEOUT_SECONDS
        pool = client._transport._pool  # httpx keeps the limits only on its transport's pool
        assert pool._keepalive_expiry == http_clients.KEEPALIVE_EXPIRY_SECONDS
        assert pool._max_connections == 7
    async with http_clients.internal_client(timeout=0.5) as client:
        assert client.timeout.connect == 0.5  # never longer than the whole answer's timeout


def test_the_services_pool_limits_follow_the_policy():
    for limits in (UPSTREAM_LIMITS, GATEWAY_LIMITS):
        assert limits.keepalive_expiry == http_clients.KEEPALIVE_EXPIRY_SECONDS
