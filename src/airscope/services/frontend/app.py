"""create_app(): the frontend, the UI the platform's users see.

- ``GET /`` and ``/static/*``: the page (plain HTML, CSS and JavaScript; no build step).
- ``/api/{path}``: forwarded to the api-gateway (proxy.py), so the page calls its own origin.
- ``POST /faro/collect``: what the page's Faro Web SDK measures about it (faro.py); forwarded to
  Alloy's faro.receiver when ``FRONTEND_FARO_FORWARD_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import airscope
from airscope.services.common import http_clients, install_error_handlers
from airscope.services.frontend.config import SERVICE, Config
from airscope.services.frontend.faro import BrowserSpans, ClientBuckets, FaroReceiver, Forwarder
from airscope.services.frontend.proxy import GatewayProxy
from airscope.telemetry import Settings, http_check, instrument

STATIC_DIR = Path(__file__).parent / "static"
# Room for a few users' slow chat calls and uploads without a connection per request; idle
# connections expire before the gateway's uvicorn closes them (common/http_clients says why).
GATEWAY_LIMITS = http_clients.limits(max_connections=100, max_keepalive_connections=20)
# On every response. The page loads only its own scripts and styles (no inline script or style, no
# eval) and talks only to its own origin: an injected script does not run, and no other site may
# frame the page (clickjacking) or learn where its users came from.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
    # Nothing the page does needs these; a script injected despite the CSP gets none of them either.
    "Permissions-Policy": (
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
        "payment=(), usb=()"
    ),
}
# Unversioned file names: the browser revalidates (ETag) instead of keeping an old app.js.
PAGE_HEADERS = {"Cache-Control": "no-cache"}


class SecurityHeaders:
    """Sets SECURITY_HEADERS on every response, whoever made it (a route, the proxy, an error)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UIFiles(StaticFiles):
    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def create_app() -> FastAPI:
    config = Config.from_env()
    proxy = GatewayProxy(config.gateway_url, config.gateway_timeout)
    kit = Settings.from_env()
    forward = (
        Forwarder(
            config.faro_forward_url,
            max_bytes=config.faro_forward_queue_bytes,
            timeout=config.faro_forward_timeout,
        )
        if config.faro_forward_url
        else None
    )
    faro = FaroReceiver(
        ClientBuckets(
            rate=config.rum_rate_per_second, burst=config.rum_burst, max_clients=config.rum_max_clients
        ),
        # Beside the services' span files, so that `airscope trace` shows the browser's side of a trace.
        spans=(
            BrowserSpans(Path(kit.trace_dir) / f"{kit.instance_id or SERVICE}-browser.jsonl")
            if kit.trace_dir
            else None
        ),
        forward=forward,
    )
    # The page names its version for the monitoring (Faro's app.version): filled in once, here.
    page = (STATIC_DIR / "index.html").read_text().replace("{{version}}", airscope.__version__)

    # One client for the /api proxy and the health check of the gateway: a client per check would
    # build a TLS context (tens of ms of CPU) every time /health is asked. (The httpx
    # instrumentation wraps the transport class: clients made before instrument() are traced too.)
    client = http_clients.internal_client(
        timeout=config.gateway_timeout,
        max_connections=GATEWAY_LIMITS.max_connections,
        max_keepalive_connections=GATEWAY_LIMITS.max_keepalive_connections,
    )
    proxy.client = client

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        forwarding = asyncio.create_task(forward.run()) if forward else None
        # Closed, not "opened" here: the kit's health loop may have used it already.
        async with contextlib.aclosing(client):
            yield
        if forwarding is not None:  # what is still queued at shutdown is lost, like a crash would lose it
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarding

    app = FastAPI(title="airscope frontend", lifespan=lifespan, openapi_url=None)
    install_error_handlers(app)
    files = UIFiles(directory=STATIC_DIR)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    # A route rather than a mount: its template is what the kit's metrics and spans name it by.
    @app.get("/static/{path:path}", include_in_schema=False)
    async def static(path: str, request: Request) -> Response:
        return await files.get_response(path, request.scope)

    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api(request: Request) -> Response:
        return await proxy.forward(request)

    @app.post("/faro/collect", status_code=202)
    async def collect(request: Request) -> Response:
        return await faro.receive(request)

    # Not critical: without the gateway the page still loads and says what is down.
    instrument(
        app,
        service=SERVICE,
        version=airscope.__version__,
        checks=[http_check("api-gateway", config.gateway_url, client=client, critical=False)],
    )
    # After instrument(): outside the kit's middleware, so its own answers (/health, /metrics) get them too.
    app.add_middleware(SecurityHeaders)
    return app
