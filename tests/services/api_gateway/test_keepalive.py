"""The gateway drops an idle pooled connection to an upstream well before the upstream's uvicorn
closes it. At equal timeouts (httpx and uvicorn both default to 5 s) a request sent on a connection
the server is closing fails with RemoteProtocolError: `airscope soak` saw /api/health answer 503
every few minutes so."""

from __future__ import annotations

import uvicorn

from airscope.services.api_gateway.app import UPSTREAM_LIMITS

MARGIN_SECONDS = 2.0  # the gateway's event loop may lag this long under load before it sends


def test_idle_upstream_connections_expire_well_before_uvicorn_closes_them():
    server_keep_alive = uvicorn.Config("airscope.services.api_gateway:create_app").timeout_keep_alive
    assert UPSTREAM_LIMITS.keepalive_expiry is not None
    assert UPSTREAM_LIMITS.keepalive_expiry + MARGIN_SECONDS <= server_keep_alive
