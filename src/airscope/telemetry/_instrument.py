"""instrument(): one call wires metrics, health, logs and traces into a FastAPI/Starlette app."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from opentelemetry import trace
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airscope.telemetry import _logging, _pyroscope, _tracing
from airscope.telemetry._admission import Admission
from airscope.telemetry._drills import drill_routes
from airscope.telemetry._health import (
    DEFAULT_CACHE_TTL,
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    Check,
    HealthMonitor,
    health_document,
)
from airscope.telemetry._metrics import HttpServerMetrics
from airscope.telemetry._middleware import KNOWN_METHODS, OTHER_METHOD, TelemetryMiddleware
from airscope.telemetry._profile_switch import profile_routes
from airscope.telemetry._settings import Settings


class HealthJSONResponse(JSONResponse):
    media_type = "application/health+json"


@dataclass
class Instrumentation:
    """What instrument() added to an app; ``uninstrument()`` takes it all away again."""

    app: Starlette
    service: str
    version: str
    metrics: HttpServerMetrics
    health: HealthMonitor
    tracer_provider: trace.TracerProvider | None
    _middleware: Middleware = field(repr=False)
    _lifespan: Callable = field(repr=False)
    _native_telemetry: dict | None = field(repr=False, default=None)
    # The concurrency limit; None when the service has none.
    admission: Admission | None = None

    def uninstrument(self) -> None:
        self.app.user_middleware.remove(self._middleware)
        self.app.middleware_stack = None
        self.app.router.lifespan_context = self._lifespan
        if self._native_telemetry is not None:
            self.app._telemetry.update(self._native_telemetry)
        self.metrics.unregister()
        self.health.unregister()
        if self.admission is not None:
            self.admission.unregister()


def instrument(
    app: Starlette,
    *,
    service: str,
    version: str,
    checks: Sequence[Check] = (),
    registry: CollectorRegistry = REGISTRY,
    tracer_provider: trace.TracerProvider | None = None,
    settings: Settings | None = None,
    tracing: bool = True,
    access_log: bool = True,
    health_timeout: float = DEFAULT_TIMEOUT,
    health_interval: float = DEFAULT_INTERVAL,
    health_cache_ttl: float = DEFAULT_CACHE_TTL,
    max_concurrent_requests: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Instrumentation:
    """Instruments ``app`` for ``service`` at ``version``.

    Adds /metrics, /health, /health/live and /health/ready, the telemetry middleware, and the
    background health loop (run by the app's lifespan). Past ``max_concurrent_requests`` in flight
    (default: ``AIRSCOPE_MAX_CONCURRENT_REQUESTS``; 0: no limit) a request is refused with 503. The process-wide parts (JSON logging,
    the tracer provider and its exporters) are configured from the environment on first use;
    tests pass their own ``registry``, ``tracer_provider`` and ``clock``.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("instrument() must be called before the app serves its first request")
    settings = settings or Settings.from_env()
    native = _disable_native_fastapi_telemetry(app)
    if not _logging.is_configured():
        _logging.configure_logging(service, level=settings.log_level)
    provider = None
    if tracing:
        provider = tracer_provider or _tracing.configure_tracing(service, version, settings)
    tracer = provider.get_tracer("airscope.telemetry", version) if provider is not None else None
    _pyroscope.start(service, version, settings, provider)

    metrics = HttpServerMetrics(
        registry, version=version, commit=settings.commit, process=registry is not REGISTRY
    )
    health = HealthMonitor(
        checks,
        registry=registry,
        timeout=health_timeout,
        interval=health_interval,
        cache_ttl=health_cache_ttl,
        clock=clock,
    )

    limit = settings.max_concurrent_requests if max_concurrent_requests is None else max_concurrent_requests
    admission = Admission(limit, registry, KNOWN_METHODS | {OTHER_METHOD}) if limit > 0 else None

    probes = _probes(service, version, settings, registry, health)
    original_lifespan = app.router.lifespan_context
    # Spans of the provider the kit configured are flushed when the app stops: uvicorn re-raises
    # SIGTERM after its shutdown, so the SDK's atexit flush would never run.
    flush_on_exit = provider if tracer_provider is None else None

    app.router.lifespan_context = _lifespan(original_lifespan, health, flush_on_exit)

    middleware = Middleware(
        TelemetryMiddleware,
        service=service,
        metrics=metrics,
        tracer=tracer,
        access_log=access_log,
        probes=probes,
        admission=admission,
        router=app.router,
    )
    app.user_middleware.insert(0, middleware)
    return Instrumentation(
        app=app,
        service=service,
        version=version,
        metrics=metrics,
        health=health,
        tracer_provider=provider,
        _middleware=middleware,
        _lifespan=original_lifespan,
        _native_telemetry=native,
        admission=admission,
    )


def _probes(
    service: str, version: str, settings: Settings, registry: CollectorRegistry, health: HealthMonitor
) -> dict[str, Route]:
    """/metrics, the health probes and (when on) the drill and profiling switches, by path."""

    async def metrics_endpoint(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})

    async def health_endpoint(request: Request) -> Response:
        status, body = health_document(
            await health.results(), service=service, version=version, commit=settings.commit
        )
        return HealthJSONResponse(body, status_code=status)

    async def ready_endpoint(request: Request) -> Response:
        critical = [r for r in await health.results() if r.check.critical]
        status, body = health_document(critical, service=service, version=version, commit=settings.commit)
        return HealthJSONResponse(body, status_code=status)

    async def live_endpoint(request: Request) -> Response:
        _, body = health_document([], service=service, version=version, commit=settings.commit)
        return HealthJSONResponse(body)

    # Served by the middleware before routing: no service route can shadow them, and the
    # service's own requests do not pay for matching four more routes first.
    return {
        route.path: route
        for route in (
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/health", health_endpoint, methods=["GET"]),
            Route("/health/live", live_endpoint, methods=["GET"]),
            Route("/health/ready", ready_endpoint, methods=["GET"]),
            *(drill_routes(service) if settings.drills else ()),
            *(profile_routes(service) if settings.profile_switch else ()),
        )
    }


def _lifespan(original_lifespan: Callable, health: HealthMonitor, flush_on_exit: object) -> Callable:
    """The app's lifespan with the health loop around it and the kit's logs and spans flushed after."""

    @asynccontextmanager
    async def lifespan(lifespan_app):
        health.start()
        try:
            async with original_lifespan(lifespan_app) as state:
                # Everything alive after start-up lives as long as the process: keep it out of
                # the collector's generations, so full collections (the p99 spikes under load)
                # walk only what requests allocate.
                gc.freeze()
                yield state
        finally:
            await health.stop()
            # Requests are over: no access line may wait for a flush that the exit would skip.
            _logging.flush()
            if hasattr(flush_on_exit, "force_flush"):
                await asyncio.to_thread(flush_on_exit.force_flush, 5000)

    return lifespan


_NATIVE_SIGNALS = ("tracing", "metrics", "logs", "operation_spans")


def _disable_native_fastapi_telemetry(app: Starlette) -> dict | None:
    """Turns off FastAPI's own OpenTelemetry instrumentation; returns what it was, to restore.

    FastAPI (0.16x) traces every request by itself once a global tracer provider exists: a second
    server span plus dependency, endpoint and serialization spans. The kit owns the server span
    (one per request, at a fraction of the cost), so the native one would only duplicate it.
    FastAPI offers this switch only as the constructor's ``telemetry=`` argument, whose dict the
    app keeps and reads on every request; services build their apps before instrumenting them.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict):
        return None
    previous = {key: config[key] for key in _NATIVE_SIGNALS if key in config}
    config.update(dict.fromkeys(_NATIVE_SIGNALS, False))
    return previous
