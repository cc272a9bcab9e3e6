"""The apps the overhead benchmark serves: one trivial endpoint, instrumented a dozen ways.

Every factory builds a fresh FastAPI app with the same ``GET /hello/{name}``, so the only
difference between two variants is their telemetry. uvicorn loads each factory by its import
path (``--factory airscope.bench._overhead_apps:kit_metrics``), one process per variant. Each
factory imports its own libraries where it runs: a variant's process loads only what it measures
(and the libraries compared are the optional ``bench`` extra).
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airscope import __version__

SERVICE = "overhead-bench"
ENDPOINT = "/hello/{name}"
# What the load generator and the checks request.
PATH = "/hello/world"
# Where OTLP/HTTP exports spans, and where the sink says how many it received.
OTLP_TRACES_PATH = "/v1/traces"
SINK_COUNT_PATH = "/spans"
# What the kit's profiling agent (pyroscope-io) pushes to, and where the Pyroscope sink says how many
# profiles it received.
PYROSCOPE_PUSH_PATH = "/push.v1.PusherService/Push"
PYROSCOPE_INGEST_PATH = "/ingest"  # the older agents' endpoint, answered too
SINK_PUSHES_PATH = "/pushes"
# tracemalloc's depth in the kit's memory switch (telemetry/_profile_switch.FRAMES, which a test
# keeps equal): the cost of a trace grows steeply with the frames it keeps.
TRACEMALLOC_FRAMES = 1
# DropSpans writes this to stderr when its provider shuts down; the runner reads the tally back
# from the server's log to show that the tracing variants really traced (and how much).
SPANS_MARKER = "overhead-bench exporter received spans: "


def hello_app(flush: Callable[[], object] | None = None) -> FastAPI:
    """The endpoint; ``flush`` runs as the app shuts down.

    The tracing variants flush their spans that way so that the run can count them: uvicorn
    re-raises SIGTERM once it has shut down, so the process dies before atexit handlers (where
    the SDK's tracer provider would flush) run.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if flush is not None:
            flush()

    app = FastAPI(lifespan=lifespan)

    @app.get(ENDPOINT)
    async def hello(name: str) -> dict:
        return {"hello": name}

    return app


class DropSpans(SpanExporter):
    """Accepts every batch and keeps nothing: the cost of making spans without that of shipping them."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        print(f"{SPANS_MARKER}{self.spans}", file=sys.stderr, flush=True)


# --- The kit ----------------------------------------------------------------------------------


def _kit(flush: Callable[[], object] | None = None, **options) -> FastAPI:
    # Imported in the variant that uses it: a library variant's process must not load the kit.
    from airscope.telemetry import instrument

    app = hello_app(flush)
    instrument(app, service=SERVICE, version=__version__, registry=CollectorRegistry(), **options)
    return app


def kit_metrics() -> FastAPI:
    return _kit(tracing=False, access_log=False)


def kit_access_log() -> FastAPI:
    return _kit(tracing=False, access_log=True)


def kit_from_environment() -> FastAPI:
    """As a service runs: the kit builds the process-wide tracer provider from the environment
    (OTEL_TRACES_SAMPLER, AIRSCOPE_TRACE_DIR for the OTLP JSON file, OTEL_EXPORTER_OTLP_ENDPOINT for
    OTLP/HTTP)."""
    # Looked up at shutdown: the provider is the one the kit sets while instrumenting.
    return _kit(lambda: trace.get_tracer_provider().shutdown())


def kit_dropping_spans() -> FastAPI:
    """The kit from the environment, with no exporter there but DropSpans behind the kit's own
    batch processor and redaction: the cost of making spans, as for the libraries' rows."""
    from airscope.telemetry import CountingBatchSpanProcessor, SafeExporter

    app = kit_from_environment()
    trace.get_tracer_provider().add_span_processor(CountingBatchSpanProcessor(SafeExporter(DropSpans())))
    return app


def kit_tracemalloc() -> FastAPI:
    """The kit at 10 % as a local service runs it, with tracemalloc tracing every allocation as the
    memory switch (POST /_profile/memory) does while its window lasts: here for the whole run, since
    a window is at most 300 s."""
    import tracemalloc

    app = kit_dropping_spans()
    tracemalloc.start(TRACEMALLOC_FRAMES)
    return app


def pyroscope_sink() -> Starlette:
    """What the profiling row's agent pushes to, in place of Pyroscope: answers every push with 200
    and counts them (GET /pushes), so the run shows the agent pushed."""
    received = 0

    async def push(request: Request) -> Response:
        nonlocal received
        await request.body()
        received += 1
        return Response(b"", media_type="application/proto")

    async def pushes(request: Request) -> Response:
        return JSONResponse({"pushes": received})

    return Starlette(
        routes=[
            Route(PYROSCOPE_PUSH_PATH, push, methods=["POST"]),
            Route(PYROSCOPE_INGEST_PATH, push, methods=["POST"]),
            Route(SINK_PUSHES_PATH, pushes),
        ]
    )


def otlp_sink() -> Starlette:
    """What the OTLP/HTTP row exports to, in place of a collector: answers every POST /v1/traces
    with 200 and counts the spans it received (GET /spans), so the run shows they arrived."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    received = 0
    answer = ExportTraceServiceResponse().SerializeToString()

    async def traces(request: Request) -> Response:
        nonlocal received
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        received += sum(
            len(scope.spans) for resource in export.resource_spans for scope in resource.scope_spans
        )
        return Response(answer, media_type="application/x-protobuf")

    async def spans(request: Request) -> Response:
        return JSONResponse({"spans": received})

    return Starlette(
        routes=[Route(OTLP_TRACES_PATH, traces, methods=["POST"]), Route(SINK_COUNT_PATH, spans)]
    )


# --- The libraries people use today -------------------------------------------------------------


def _otel_provider() -> TracerProvider:
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    return provider


def instrumentator() -> FastAPI:
    from prometheus_fastapi_instrumentator import Instrumentator

    app = hello_app()
    Instrumentator().instrument(app).expose(app)
    return app


def starlette_exporter() -> FastAPI:
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    app = hello_app()
    app.add_middleware(PrometheusMiddleware)
    app.add_route("/metrics", handle_metrics)
    return app


def otel_fastapi() -> FastAPI:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    provider = _otel_provider()
    app = hello_app(provider.shutdown)
    # The provider is passed, not made global: a global one would also switch on FastAPI's own
    # native tracing, and this row measures the contrib instrumentation alone.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app


def _add_trace_ids(logger, method_name: str, event_dict: dict) -> dict:
    # The usual hand-written processor that puts the trace id on every line for correlation.
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def libraries_full_stack() -> FastAPI:
    """Instrumentator + OTel FastAPI instrumentation + one structlog JSON line per request."""
    import structlog
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from prometheus_fastapi_instrumentator import Instrumentator

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("access")
    provider = _otel_provider()
    app = hello_app(provider.shutdown)

    # The access-log middleware as FastAPI's documentation shows it.
    @app.middleware("http")
    async def access_log(request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        log.info(
            "request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )
        return response

    Instrumentator().instrument(app).expose(app)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app


# --- The table of variants ----------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    factory: Callable[[], FastAPI]
    # A metric family /metrics must list once a request was served; None for no /metrics.
    metric: str | None = None
    # Writes one access line per request (counted afterwards, to show it did).
    access_log: bool = False
    # Where its spans go: "dropped" (into DropSpans, whose tally ends up in the log), "file" (the
    # kit's OTLP JSON file under AIRSCOPE_TRACE_DIR) or "otlp" (OTLP/HTTP to the run's sink, which
    # counts them); or None for no tracing.
    traces: Literal["dropped", "file", "otlp"] | None = None
    # Sets the process-wide tracer provider, as a service does (so its tests run it in a process
    # of its own), sampling as OTEL_TRACES_SAMPLER says (100 % unless ``environment`` says else).
    global_provider: bool = False
    # More environment for its process (the sampler; OTEL_BSP_* to try batch sizes).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Runs the kit's profiling agent, pushing to the run's Pyroscope sink (AIRSCOPE_PYROSCOPE_URL).
    profiles: bool = False

    @property
    def import_path(self) -> str:
        return f"{self.factory.__module__}:{self.factory.__qualname__}"


KIT_METRIC = "http_server_request_duration_seconds"
# Production's head sampling (compose's OTEL_TRACES_SAMPLER_ARG default).
SAMPLED_10 = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
INSTRUMENTATOR_METRIC = "http_requests_total"

VARIANTS: tuple[Variant, ...] = (
    Variant("bare", "bare FastAPI", hello_app),
    Variant("kit-metrics", "kit: metrics", kit_metrics, metric=KIT_METRIC),
    Variant("kit-log", "kit: metrics + access log", kit_access_log, metric=KIT_METRIC, access_log=True),
    Variant(
        "kit-trace-100",
        "kit: metrics + log + tracing 100 %",
        kit_dropping_spans,
        metric=KIT_METRIC,
        access_log=True,
        traces="dropped",
        global_provider=True,
    ),
    Variant(
        "kit-trace-10",
        "kit: metrics + log + tracing 10 %",
        kit_dropping_spans,
        metric=KIT_METRIC,
        access_log=True,
        traces="dropped",
        global_provider=True,
        environment=SAMPLED_10,
    ),
    # The two rows of continuous and on-demand profiling, each the 10 % row plus one thing: their
    # cost is their ratio to that row.
    Variant(
        "kit-profile",
        "kit: metrics + log + tracing 10 % + profiling (Pyroscope push)",
        kit_dropping_spans,
        metric=KIT_METRIC,
        access_log=True,
        traces="dropped",
        global_provider=True,
        environment=SAMPLED_10,
        profiles=True,
    ),
    Variant(
        "kit-tracemalloc",
        "kit: metrics + log + tracing 10 % + tracemalloc on",
        kit_tracemalloc,
        metric=KIT_METRIC,
        access_log=True,
        traces="dropped",
        global_provider=True,
        environment=SAMPLED_10,
    ),
    Variant(
        "kit-trace-file",
        "kit: metrics + log + tracing 100 % to its OTLP JSON file",
        kit_from_environment,
        metric=KIT_METRIC,
        access_log=True,
        traces="file",
        global_provider=True,
    ),
    Variant(
        "kit-trace-otlp",
        "kit: metrics + log + tracing 100 % over OTLP/HTTP",
        kit_from_environment,
        metric=KIT_METRIC,
        access_log=True,
        traces="otlp",
        global_provider=True,
    ),
    Variant(
        "instrumentator", "prometheus-fastapi-instrumentator", instrumentator, metric=INSTRUMENTATOR_METRIC
    ),
    Variant(
        "starlette-exporter", "starlette-exporter", starlette_exporter, metric="starlette_requests_total"
    ),
    Variant("otel-fastapi", "OTel FastAPI instrumentation 100 %", otel_fastapi, traces="dropped"),
    Variant(
        "libraries-full",
        "instrumentator + OTel FastAPI 100 % + structlog line",
        libraries_full_stack,
        metric=INSTRUMENTATOR_METRIC,
        access_log=True,
        traces="dropped",
    ),
)
