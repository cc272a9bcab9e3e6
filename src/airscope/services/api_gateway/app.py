"""create_app(): the api-gateway, the platform's one public door.

Per request: authenticate (API key or bearer JWT) -> take a token from the client's bucket ->
forward to the upstream of the route table (within that upstream's concurrency limit), or answer
/api/health from every service's last /health, which one background task refreshes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import aclosing, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware

import airscope
from airscope.services.api_gateway.auth import Authenticator
from airscope.services.api_gateway.config import SERVICE, Config
from airscope.services.api_gateway.health import PlatformHealth
from airscope.services.api_gateway.metrics import RATE_LIMITED
from airscope.services.api_gateway.proxy import ANY_METHOD, ROUTES, Proxy, ProxyRoute
from airscope.services.api_gateway.ratelimit import RateLimiter
from airscope.services.common import ServiceError, http_clients, install_error_handlers
from airscope.services.common import redis_client as redis_client_module
from airscope.services.common.background import stop
from airscope.telemetry import CheckResult, get_logger, http_check, instrument, redis_check

log = get_logger(__name__)

# Room for every upstream's concurrency limit (config.py) without opening a connection per request;
# idle connections expire before the upstream's uvicorn closes them (common/http_clients says why).
UPSTREAM_LIMITS = http_clients.limits(max_connections=200, max_keepalive_connections=50)
# The limiter runs on every request: a Redis that hangs must cost milliseconds, not seconds.
REDIS_TIMEOUT_SECONDS = 0.5
# What the frontend's pages send and read across origins. Credentials travel in headers (a bearer
# token or an API key), never in cookies: no credentialed CORS.
CORS_HEADERS = ("Authorization", "X-API-Key", "traceparent", "tracestate", "X-Request-Id")
CORS_EXPOSED = ("X-Trace-Id", "X-Request-Id", "Retry-After")


class HealthJSONResponse(JSONResponse):
    media_type = "application/health+json"


class _Guards:
    """What stands in front of every route: who the caller is, and the caller's rate limit."""

    def __init__(self, limiter: RateLimiter, authenticator: Authenticator) -> None:
        self.limiter = limiter
        self.authenticator = authenticator

    async def _rate_limit(self, request: Request, client_id: str) -> None:
        decision = await self.limiter.take(client_id)
        if not decision.allowed:
            RATE_LIMITED.labels(request.scope["route"].path).inc()
            retry_after = decision.retry_after_header
            raise ServiceError(
                429,
                "rate_limited",
                f"too many requests from this client; retry in {retry_after}s",
                headers={"Retry-After": retry_after},
            )

    async def authenticated(self, request: Request) -> str:
        client_id = self.authenticator.authenticate(request.headers)
        await self._rate_limit(request, client_id)
        return client_id

    async def operator(self, request: Request) -> str:
        # A signed-in user's token must not reach the clean-up routes: they act on everyone's data.
        if "x-api-key" not in request.headers and "authorization" in request.headers:
            raise ServiceError(
                403, "api_key_required", "the admin routes take an X-API-Key only, not a sign-in token"
            )
        return await self.authenticated(request)

    async def anonymous(self, request: Request) -> None:
        # Public routes (login, register, health) are limited per address: login is what a
        # password-guessing script would hammer.
        await self._rate_limit(request, "ip:" + (request.client.host if request.client else "unknown"))


def create_app() -> FastAPI:
    config = Config.from_env()
    if not config.api_keys and config.jwt_secret is None:
        log.warning("no API key and no JWT secret configured: every authenticated route will answer 401")
    redis_client = redis_client_module.connect(
        config.redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    limiter = RateLimiter(redis_client, rate=config.rate_limit_rps, burst=config.rate_limit_burst)
    authenticator = Authenticator(
        config.api_keys,
        jwt_secret=config.jwt_secret,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
    )
    proxy = Proxy(config.upstreams)
    # One client for forwarding, /api/health and the health checks: a client per check would build
    # a TLS context (tens of ms of CPU) every time they run. (The httpx instrumentation wraps the
    # transport class: a client made before instrument() is traced too.)
    client = http_clients.internal_client(
        max_connections=UPSTREAM_LIMITS.max_connections,
        max_keepalive_connections=UPSTREAM_LIMITS.max_keepalive_connections,
    )
    proxy.client = client

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Closed, not "opened" here: the kit's health loop may have used it already.
        async with aclosing(client):
            refresher = asyncio.create_task(platform.run(client))
            try:
                yield
            finally:
                await stop([refresher])
                await redis_client.aclose()

    # The gateway's API is its upstreams' APIs: no schema of its own to publish.
    app = FastAPI(title="airscope api-gateway", lifespan=lifespan, openapi_url=None)
    install_error_handlers(app)
    # Added before instrument(), so inside the kit's middleware: preflights are measured and traced.
    # An origin not listed gets no Access-Control-Allow-Origin, so its pages cannot read an answer.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_origins,
        allow_methods=ANY_METHOD,
        allow_headers=CORS_HEADERS,
        expose_headers=CORS_EXPOSED,
    )

    guards = _Guards(limiter, authenticator)
    for route in ROUTES:
        app.add_api_route(
            route.template,
            _forwarder(proxy, route, _guard(guards, route)),
            methods=list(route.methods),
        )

    @app.get("/api/health", dependencies=[Depends(guards.anonymous)])
    async def api_health() -> Response:
        status, body = await platform.document()
        return HealthJSONResponse(body, status_code=status)

    # Redis is critical: without it no limit is enforced (requests still pass, see ratelimit.py).
    # Upstreams are not: one of them down leaves every other route working.
    checks = [redis_check(redis_client)] + [
        http_check(upstream.name, upstream.url, client=client, critical=False)
        for upstream in config.upstreams.values()
        if upstream.deployed
    ]
    instrumentation = instrument(app, service=SERVICE, version=airscope.__version__, checks=checks)
    monitor = instrumentation.health

    async def own_results() -> list[CheckResult]:
        # What the kit's health loop last found; asking anew would run every check again.
        return await monitor.results(max_age=monitor.interval)

    platform = PlatformHealth(
        config.health_targets,
        timeout=config.health_timeout,
        interval=config.health_interval,
        own_results=own_results,
        own_interval=monitor.interval,
        version=airscope.__version__,
    )
    return app


def _guard(guards: _Guards, route: ProxyRoute) -> Callable[[Request], Coroutine[Any, Any, str | None]]:
    if route.public:
        return guards.anonymous
    return guards.operator if route.admin else guards.authenticated


def _forwarder(
    proxy: Proxy, route: ProxyRoute, guard: Callable[[Request], Coroutine[Any, Any, str | None]]
) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def forward(request: Request, client_id: str | None = Depends(guard)) -> Response:
        return await proxy.forward(route, request, client_id)

    forward.__name__ = f"forward_{route.upstream.replace('-', '_')}"
    return forward
