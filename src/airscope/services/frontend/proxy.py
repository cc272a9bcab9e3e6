"""``/api/{path}``: the page's API calls, forwarded to the api-gateway from the page's own origin
(so the browser needs no CORS, and the gateway stays the one place that authenticates).

The caller's credentials go through untouched (checking them is the gateway's job). The trace
context does not: the kit's server span continued the page's ``traceparent``, and the httpx
instrumentation writes a new one under this hop's client span, so the gateway's spans join the
trace the page started. The gateway's answer is read whole (``common.forwarding``).
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response

from airscope.services.common import forwarding
from airscope.services.common.forwarding import HOP_BY_HOP

UPSTREAM = "api-gateway"

# Written anew for the outgoing request: the trace context (httpx instrumentation), the request id
# (the kit) and the forwarding chain (below).
REWRITTEN = frozenset({"traceparent", "tracestate", "baggage", "x-request-id", "x-forwarded-for"})


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in HOP_BY_HOP and name not in REWRITTEN
    ]
    # The gateway limits sign-in attempts per address: it must see the browser's, not ours.
    chain = [value for name, value in request.headers.items() if name == "x-forwarded-for"]
    if request.client is not None:
        chain.append(request.client.host)
    if chain:
        headers.append(("x-forwarded-for", ", ".join(chain)))
    return headers


class GatewayProxy:
    def __init__(self, gateway_url: str, timeout: float) -> None:
        self.gateway_url = gateway_url
        self.timeout = timeout
        self.client: httpx.AsyncClient | None = None  # opened by the app's lifespan

    async def forward(self, request: Request) -> Response:
        assert self.client is not None, "the app's lifespan opens the client"
        # The raw path, still percent-encoded as the page sent it: an encoded "/" stays in its segment.
        path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        query = request.url.query
        outgoing = self.client.build_request(
            request.method,
            self.gateway_url + path + (f"?{query}" if query else ""),
            headers=forwarded_headers(request),
            content=forwarding.body(request),
            timeout=self.timeout,
        )
        return await forwarding.exchange(self.client, outgoing, UPSTREAM, self.timeout)
