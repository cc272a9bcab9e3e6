"""How spans leave the process: resource, sampler, exporters, and the client libraries' spans.

The SDK reads the standard OTEL_* variables itself; this module only chooses exporters
(OTLP/HTTP when an endpoint is set, OTLP/JSON lines under AIRSCOPE_TRACE_DIR) and puts each
behind a bounded queue that counts what it drops.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from airscope.telemetry._context import current_request_id
from airscope.telemetry._metrics import DROPPED
from airscope.telemetry._redact import REDACTED, is_secret_key, redact_text
from airscope.telemetry._settings import Settings

# The SDK warns once per span dropped on a full queue; the count in telemetry_dropped_total says
# the same without flooding the logs at exactly the moment the system is overloaded.
logging.getLogger("opentelemetry.sdk._shared_internal").setLevel(logging.ERROR)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor whose overflow is counted in telemetry_dropped_total{signal="traces"}."""

    def on_end(self, span: ReadableSpan) -> None:
        if span.context and span.context.trace_flags.sampled:
            # The SDK drops silently (beyond a log line) when its bounded deque is full.
            batch = self._batch_processor
            if len(batch._queue) >= batch._max_queue_size:
                DROPPED.add("traces")
        super().on_end(span)


class SafeExporter(SpanExporter):
    """Redacts secrets from span attributes and events, and counts the spans of a failed export."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.exporter.export([_redacted(span) for span in spans])
        except Exception:
            logging.getLogger(__name__).warning("span export failed", exc_info=True)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            DROPPED.add("traces", len(spans))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def _clean_attributes(attributes) -> dict | None:
    """A redacted copy of the attributes, or None when nothing in them is secret."""
    if not attributes:
        return None
    cleaned, changed = {}, False
    for key, value in attributes.items():
        if is_secret_key(key):
            new = REDACTED
        elif isinstance(value, str):
            new = redact_text(value)
        else:
            new = value
        changed = changed or (new is not value and new != value)
        cleaned[key] = new
    return cleaned if changed else None


def _redacted(span: ReadableSpan) -> ReadableSpan:
    attributes = _clean_attributes(span.attributes)
    events = None
    if span.events:
        cleaned_events = [_clean_attributes(event.attributes) for event in span.events]
        if any(c is not None for c in cleaned_events):
            events = [
                Event(e.name, c if c is not None else e.attributes, e.timestamp)
                for e, c in zip(span.events, cleaned_events, strict=True)
            ]
    if attributes is None and events is None:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        events=events if events is not None else span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def build_resource(service: str, version: str, settings: Settings) -> Resource:
    instance_id = settings.instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES, which wins where it sets the same key.
    return Resource.create(
        {
            "service.name": service,
            "service.version": version,
            # The older key is what Grafana and Tempo's service graphs group by today;
            # the newer one is the current semantic convention.
            "deployment.environment": settings.environment,
            "deployment.environment.name": settings.environment,
            "service.instance.id": instance_id,
        }
    )


def build_tracer_provider(service: str, version: str, settings: Settings) -> TracerProvider:
    provider = TracerProvider(resource=build_resource(service, version, settings))
    for exporter in _exporters(service, settings):
        provider.add_span_processor(CountingBatchSpanProcessor(SafeExporter(exporter)))
    return provider


def _exporters(service: str, settings: Settings) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    if settings.otlp_enabled:
        # Imported only when used, for start-up speed: protobuf and requests cost ~0.1 s a process.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())
    if settings.trace_dir:
        exporters.append(SpanFile(Path(settings.trace_dir) / f"{settings.instance_id or service}.jsonl"))
    return exporters


class SpanFile(SpanExporter):
    """One OTLP/JSON ExportTraceServiceRequest a line (the SDK's FileSpanExporter's format): what the
    Collector's otlpjsonfile receiver and `airscope trace` read. Each batch's line lands whole or
    not at all.

    The SDK's exporter writes through a buffered stream: on a full disk the bytes that did not fit
    stay in its buffer, to be written mid-line once space returns, and every failed batch logs a
    traceback. Here a batch is one write() to an O_APPEND descriptor, a short write is cut back off,
    the failed batch is counted (by SafeExporter) and one warning marks the file failing, one line
    its recovery. The file is opened on first use, so an unwritable trace directory stops no service.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._failing = False
        self._log = logging.getLogger(__name__)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # Imported at the first export, for start-up speed: processes without span files never pay it.
        from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans

        line = (json.dumps(encode_spans(spans).to_dict(), separators=(",", ":")) + "\n").encode()
        try:
            self._append(line)
        except OSError as error:
            if not self._failing:
                self._log.warning(
                    "span file %s not writable (%s): dropping spans until it is", self.path, error
                )
            self._failing = True
            return SpanExportResult.FAILURE
        if self._failing:
            self._log.info("span file %s writable again", self.path)
            self._failing = False
        return SpanExportResult.SUCCESS

    def _append(self, line: bytes) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        written = os.write(self._fd, line)
        if written < len(line):
            # Only a full disk (or a file size limit) shortens a write to a regular file.
            os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - written)
            raise OSError(errno.ENOSPC, f"only {written} of {len(line)} bytes written")

    def shutdown(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_libraries_instrumented = False


def _pass_request_id(span: trace.Span, request: object) -> None:
    """Outgoing HTTP requests carry the id of the request being served, so one X-Request-Id
    follows it through every service, as the trace id does."""
    request_id = current_request_id()
    headers = getattr(request, "headers", None)
    if request_id and headers is not None and "x-request-id" not in headers:
        headers["x-request-id"] = request_id


async def _pass_request_id_async(span: trace.Span, request: object) -> None:
    _pass_request_id(span, request)


def instrument_libraries(provider: trace.TracerProvider) -> None:
    """Client spans for httpx and httpx2 (the openai and mcp SDKs' client), asyncpg (SQLAlchemy's
    async driver) and Redis, process-wide, once. W3C trace context and X-Request-Id go out with
    every HTTP request."""
    global _libraries_instrumented
    if _libraries_instrumented:
        return
    # Imported only when tracing is on, for start-up speed (each instrumentation loads its library).
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (HTTPXClientInstrumentor(), HTTPX2ClientInstrumentor()):
        instrumentor.instrument(
            tracer_provider=provider,
            request_hook=_pass_request_id,
            async_request_hook=_pass_request_id_async,
        )
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    _libraries_instrumented = True


def configure_tracing(service: str, version: str, settings: Settings | None = None) -> trace.TracerProvider:
    """Sets the process's tracer provider from the environment (once) and returns it."""
    settings = settings or Settings.from_env()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider) or settings.tracing_disabled:
        return current
    provider = build_tracer_provider(service, version, settings)
    trace.set_tracer_provider(provider)
    instrument_libraries(provider)
    return provider


def untraced() -> contextlib.AbstractContextManager:
    """For background timers (gauge refreshes, heartbeats, queue polling, lease renewals): the
    calls made inside make no spans, so no one-span trace of nobody's request appears every few
    seconds. Work a timer starts for real (a job, a resumed saga) opens its own span instead."""
    return suppress_instrumentation()
