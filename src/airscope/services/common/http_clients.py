"""The one connection policy of every client a service uses to call another of the platform's services.

Every service runs under uvicorn, which closes a connection idle for ``--timeout-keep-alive`` (5 s).
A client that keeps an idle connection as long races the server: a request sent just as the server
closes fails with RemoteProtocolError (a soak saw the gateway's /api/health answer 503 every few
minutes so). Every internal client therefore drops an idle connection well before the server can.
"""

from __future__ import annotations

import httpx

# uvicorn's default --timeout-keep-alive; the platform's services run with it (local/launch.py, compose).
SERVER_KEEPALIVE_SECONDS = 5.0
# Well under the server's: the idle connection is gone from the pool before the server closes it.
KEEPALIVE_EXPIRY_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2.0


def limits(max_connections: int = 100, max_keepalive_connections: int = 20) -> httpx.Limits:
    """The pool limits of an internal client, with the keep-alive expiry of this module's policy."""
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )


def internal_client(
    *,
    timeout: float = 10.0,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
    **kwargs,
) -> httpx.AsyncClient:
    """An httpx client for calls to the platform's own services: ``timeout`` (seconds) for the whole
    answer, a short connect timeout, and the keep-alive policy above. The caller closes it."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
        limits=limits(max_connections, max_keepalive_connections),
        **kwargs,
    )
