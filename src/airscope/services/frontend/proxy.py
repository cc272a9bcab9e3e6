"""``/api/{path}``: the page's API calls, forwarded to the api-gateway from the page's own origin
(so the browser needs no CORS, and the gateway stays the one place that authenticates).

The caller's credentials go through untouched (checking them is the gateway's job). The trace
context does not: the kit's server span continued the page's ``traceparent``, and the httpx
instrumentation writes a new one under this hop's client span, so the gateway's spans join the
trace the page started. The gateway's answer is read whole (small JSON documents), so a failure
becomes a clean 504/502 rather than a response cut off midway.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response

from airscope.services.common import ServiceError

UPSTREAM = "api-gateway"

# RFC 9110 §7.6.1, plus what this hop recomputes itself.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host"}
)  # fmt: skip
# Written anew for the outgoing request: the trace context (httpx instrumentation), the request id
# (the kit) and the forwarding chain (below).
REWRITTEN = frozenset({"traceparent", "tracestate", "baggage", "x-request-id", "x-forwarded-for"})
# The gateway's own framing and ids: this response is re-framed, and the kit adds this hop's ids.
UPSTREAM_ONLY = frozenset(
    {"content-length", "content-encoding", "date", "server", "x-trace-id", "x-request-id"}
)  # fmt: skip
NOT_ANSWERED = HOP_BY_HOP | UPSTREAM_ONLY


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
            # Streamed only when there is a body: a GET must not turn into a chunked upload.
            content=request.stream() if _has_body(request) else None,
            timeout=self.timeout,
        )
        try:
            answer = await self.client.send(outgoing)
        except httpx.TimeoutException:
            raise ServiceError(
                504, "upstream_timeout", f"{UPSTREAM} did not answer within {self.timeout:g}s"
            ) from None
        except httpx.TransportError as exc:
            raise ServiceError(
                502, "upstream_unreachable", f"{UPSTREAM} could not be reached ({type(exc).__name__})"
            ) from None
        response = Response(answer.content, status_code=answer.status_code)
        response.raw_headers.extend(
            (name.lower(), value)
            for name, value in answer.headers.raw
            if name.lower().decode("latin-1") not in NOT_ANSWERED
        )
        return response


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers
