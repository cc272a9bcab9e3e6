"""The route table and the forwarding of a request to its upstream service.

The request body is streamed to the upstream and its answer read whole (``common.forwarding``).
At most ``Upstream.max_concurrent`` requests are forwarded to one upstream at once; the next is
refused at once (503, Retry-After): past an upstream's capacity waiting only makes every caller
of it slower, and a slow chat path must not take the connections the other routes need.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

import httpx
from starlette.requests import Request
from starlette.responses import Response

from airscope.services.api_gateway.config import Upstream
from airscope.services.api_gateway.metrics import UPSTREAM_DURATION
from airscope.services.common import ServiceError, forwarding, http_clients
from airscope.services.common.forwarding import HOP_BY_HOP
from airscope.telemetry import current_request_id

ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")
CREDENTIALS_UPSTREAM = "platform-services"
# Long enough for a burst to drain; the kit's own refusals say the same.
RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class ProxyRoute:
    """``template`` (the gateway's route) forwards to ``upstream``: the part of the path after the
    template's literal prefix is appended to ``target``."""

    template: str
    upstream: str
    target: str
    methods: tuple[str, ...] = ANY_METHOD
    public: bool = False
    # An operators' route (the services' /admin/...): an API key only, never a user's sign-in token.
    admin: bool = False

    @property
    def prefix(self) -> str:
        return self.template.split("{", 1)[0]


# Specific routes before the catch-alls that would also match them.
ROUTES = (
    ProxyRoute("/api/chat", "llm-orchestrator", "/chat", methods=("POST",)),
    ProxyRoute("/api/chat/{path:path}", "llm-orchestrator", "/"),
    ProxyRoute("/api/airtable/{path:path}", "airtable-gateway", "/"),
    ProxyRoute("/api/auth/register", "platform-services", "/auth/register", methods=("POST",), public=True),
    ProxyRoute("/api/auth/login", "platform-services", "/auth/login", methods=("POST",), public=True),
    ProxyRoute("/api/auth/{path:path}", "platform-services", "/auth/"),
    ProxyRoute("/api/automation/{path:path}", "automation-services", "/"),
    ProxyRoute("/api/sagas", "saga-orchestrator", "/sagas"),
    ProxyRoute("/api/sagas/{path:path}", "saga-orchestrator", "/sagas/"),
    ProxyRoute("/api/admin/sagas", "saga-orchestrator", "/admin/sagas", admin=True),
    ProxyRoute("/api/admin/sagas/{path:path}", "saga-orchestrator", "/admin/sagas/", admin=True),
    ProxyRoute("/api/admin/jobs", "automation-services", "/admin/jobs", admin=True),
    ProxyRoute("/api/admin/jobs/{path:path}", "automation-services", "/admin/jobs/", admin=True),
    ProxyRoute("/api/admin/users/{path:path}", "platform-services", "/admin/users/", admin=True),
)

# Never passed on from the caller: credentials (the gateway checked them), ids the gateway sets
# itself (a caller must not pose as another client, nor as another address), and the trace
# context, which the httpx instrumentation writes anew with the gateway's client span as parent.
CALLER_ONLY = frozenset(
    {"x-api-key", "authorization", "cookie", "x-client-id", "x-request-id", "x-forwarded-for",
     "traceparent", "tracestate", "baggage"}
)  # fmt: skip
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.IGNORECASE)
# What every service serves beside its API (the kit's /metrics and health probes, the local drill
# switch, the operators' /admin routes) and the stand-ins' fault switches: for Prometheus, the
# orchestrator, the drills and operators on the inside, never for a caller of the public API (the
# admin routes above reach /admin, API keys only). Matched on the decoded path the upstream will route.
_INTERNAL = re.compile(r"^/(?:metrics|health|_drill|_admin|admin)(?:/|$)")


def upstream_path(route: ProxyRoute, request: Request) -> str:
    """The path to ask the upstream for, still percent-encoded as the caller sent it (so that an
    encoded ``/`` inside a record name stays one path segment)."""
    path = (request.scope.get("raw_path") or b"").decode("latin-1")
    if not path.startswith(route.prefix):  # the caller percent-encoded part of the prefix itself
        path = quote(request.url.path)
    rest = path[len(route.prefix) :]
    if _DOT_SEGMENT.search(rest):
        # "/api/auth/../admin" must not reach what lies outside the route's prefix upstream.
        raise ServiceError(400, "invalid_path", "the path must not contain '.' or '..' segments")
    target = route.target + rest
    if not route.admin and _INTERNAL.match(re.sub("/+", "/", unquote(target))):
        raise ServiceError(404, "not_found", f"no route {request.url.path}")
    return target


def upstream_headers(request: Request, upstream: str, client_id: str | None) -> list[tuple[str, str]]:
    passed = [
        (name, value)
        for name, value in request.headers.items()
        if name not in HOP_BY_HOP and (name not in CALLER_ONLY or _credential_for(upstream, name))
    ]
    request_id = current_request_id()
    if request_id is not None:
        passed.append(("x-request-id", request_id))
    if client_id is not None:
        passed.append(("x-client-id", client_id))
    if request.client is not None:
        # The one address the gateway itself saw (its own rate limit's): platform-services limits
        # failed logins per client by it. Whatever X-Forwarded-For the caller sent is gone above;
        # uvicorn already resolved it where it came from a trusted proxy (FORWARDED_ALLOW_IPS,
        # e.g. the frontend's /api proxy).
        passed.append(("x-forwarded-for", request.client.host))
    return passed


def _credential_for(upstream: str, header: str) -> bool:
    # platform-services answers /auth/me and friends for the bearer token's owner: it needs the token.
    return upstream == CREDENTIALS_UPSTREAM and header in ("authorization", "cookie")


class Proxy:
    def __init__(self, upstreams: Mapping[str, Upstream]) -> None:
        self.upstreams = upstreams
        self.client: httpx.AsyncClient | None = None  # opened by the app's lifespan
        # Requests in flight per upstream; the event loop's one thread is the only writer.
        self.in_flight = dict.fromkeys(upstreams, 0)

    async def forward(self, route: ProxyRoute, request: Request, client_id: str | None) -> Response:
        upstream = self.upstreams[route.upstream]
        if not upstream.deployed:
            UPSTREAM_DURATION.labels(upstream.name, "not_deployed").observe(0)
            raise ServiceError(
                503,
                "upstream_not_deployed",
                f"{upstream.name} is not part of this build yet, so {route.template} cannot be served",
            )
        assert self.client is not None, "the app's lifespan opens the client"
        if self.in_flight[upstream.name] >= upstream.max_concurrent:
            UPSTREAM_DURATION.labels(upstream.name, "shed").observe(0)
            raise ServiceError(
                503,
                "upstream_overloaded",
                f"{upstream.name} is at its limit of {upstream.max_concurrent} requests at once; "
                f"retry in {RETRY_AFTER_SECONDS}s",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        path = upstream_path(route, request)
        query = request.url.query
        outgoing = self.client.build_request(
            request.method,
            upstream.url + path + (f"?{query}" if query else ""),
            headers=upstream_headers(request, upstream.name, client_id),
            content=forwarding.body(request),
            # A short connect timeout: an upstream that cannot be reached fails fast, not after
            # the whole answer's timeout.
            timeout=httpx.Timeout(
                upstream.timeout, connect=min(http_clients.CONNECT_TIMEOUT_SECONDS, upstream.timeout)
            ),
        )
        started = time.perf_counter()

        def outcome(outcome: str) -> None:
            UPSTREAM_DURATION.labels(upstream.name, outcome).observe(time.perf_counter() - started)

        self.in_flight[upstream.name] += 1
        try:
            return await forwarding.exchange(self.client, outgoing, upstream.name, upstream.timeout, outcome)
        finally:
            self.in_flight[upstream.name] -= 1
