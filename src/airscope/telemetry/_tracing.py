"""How spans leave the process: resource, sampler, exporters, and the client libraries' spans.

The SDK reads the standard OTEL_* variables itself; this module chooses exporters (OTLP/HTTP when
an endpoint is set, OTLP/JSON lines under AIRSCOPE_TRACE_DIR), puts each behind a bounded queue
that counts what it drops, and wraps the sampler OTEL_TRACES_SAMPLER names so that every kept span
says the share of traces it stands for (``SAMPLE_RATIO``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Tracer, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.util._decorator import _agnosticcontextmanager

from airscope.telemetry._context import current_request_id
from airscope.telemetry._metrics import DROPPED
from airscope.telemetry._otlp_json import encode_line
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
    # Nearly every span holds no secret: look first, copy only when there is something to redact.
    for key, value in attributes.items():
        if is_secret_key(key) or (isinstance(value, str) and _holds_secret(value)):
            break
    else:
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


def _holds_secret(text: str) -> bool:
    if len(text) > _REMEMBERED_LENGTH:
        return redact_text(text) != text
    return _short_holds_secret(text)


# Short span attribute values repeat (methods, routes, schemes, addresses): their verdicts are
# remembered, the LRU bound keeping one-off values (paths with ids) from growing it; long ones
# (a prompt, a query) are not kept alive for it.
_REMEMBERED_LENGTH = 256


@functools.lru_cache(maxsize=4096)
def _short_holds_secret(text: str) -> bool:
    return redact_text(text) != text


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


# The span attribute Tempo's metrics-generator reads (its span_multiplier_key, stack/tempo.py): the
# probability this span's trace was kept with. Tempo counts the span 1/ratio times in the service
# graph and the span metrics, so 10 % sampling still draws the full request rates.
SAMPLE_RATIO = "airscope.sample_ratio"
# The W3C tracestate entry (airscope=ratio:0.1) that carries the root's ratio to its children, in
# this process and downstream, since a parent-based sampler keeps a child because its root was kept.
TRACESTATE_KEY = "airscope"
_RATIO_PREFIX = "ratio:"
_DEFAULT_SAMPLER = "parentbased_always_on"  # the SDK's, when OTEL_TRACES_SAMPLER is unset
_TRACE_ID_LIMIT = sampling.TraceIdRatioBased.TRACE_ID_LIMIT
_KEEP_ALL = _TRACE_ID_LIMIT + 1


class SampleRatioSampler(sampling.Sampler):
    """The configured sampler, unchanged in what it keeps; a kept span gets ``SAMPLE_RATIO`` where
    that ratio is known to be true:

    - a span this sampler decided by its ratio (a root, or any span under ``traceidratio``): the ratio;
    - a span that inherits its parent's decision (``parentbased_*`` with a parent): the ratio its
      root was kept with, read from the tracestate entry the root wrote. A trace begun elsewhere (a
      browser, a caller that keeps every trace) carries no entry, and its spans count once each.

    A propagated ratio below this service's own is not believed: a caller could otherwise make one
    request count a million times on the service map by sending ``airscope=ratio:0.000001``.
    """

    def __init__(
        self, sampler: sampling.Sampler, ratio: float, parent_based: bool, keep_below: int | None = None
    ) -> None:
        self._sampler = sampler
        self._ratio = ratio
        self._parent_based = parent_based
        # The wrapped sampler keeps a root (or, when not parent-based, any span) whose trace id's
        # low 64 bits are below this bound, as TraceIdRatioBased decides; None when that is unknown.
        self._keep_below = keep_below

    @property
    def keeps_every_root(self) -> bool:
        return self._keep_below == _KEEP_ALL

    def drops(self, parent: SpanContext | None, trace_id: int) -> bool:
        """Whether the wrapped sampler certainly drops a span of ``trace_id`` under ``parent`` (None
        for a root): the decision a tracer can take before building anything (SamplingFirstTracer).
        False when unsure: should_sample then decides, as always."""
        if parent is not None and self._parent_based:
            return not parent.trace_flags.sampled
        return self._keep_below is not None and trace_id & _TRACE_ID_LIMIT >= self._keep_below

    def should_sample(
        self,
        parent_context,
        trace_id: int,
        name: str,
        kind=None,
        attributes=None,
        links=None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        result = self._sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if not result.decision.is_sampled():
            return result
        parent = trace.get_current_span(parent_context).get_span_context()
        state = result.trace_state
        if self._parent_based and parent.is_valid:
            ratio = _propagated_ratio(parent.trace_state, self._ratio)
        else:
            ratio = self._ratio if self._ratio < 1 else None
            if ratio is not None and not parent.is_valid:
                state = _with_ratio(state or TraceState(), ratio)
        if ratio is None:
            return result
        return sampling.SamplingResult(result.decision, {**result.attributes, SAMPLE_RATIO: ratio}, state)

    def get_description(self) -> str:
        return f"SampleRatio{{{self._sampler.get_description()}}}"


def _with_ratio(state: TraceState, ratio: float) -> TraceState:
    value = f"{_RATIO_PREFIX}{ratio!r}"
    return (
        state.update(TRACESTATE_KEY, value) if TRACESTATE_KEY in state else state.add(TRACESTATE_KEY, value)
    )


def _propagated_ratio(state: TraceState | None, floor: float) -> float | None:
    """The root's ratio from the tracestate, if there is one this service can believe."""
    entry = (state or {}).get(TRACESTATE_KEY, "")
    if not entry.startswith(_RATIO_PREFIX):
        return None
    try:
        ratio = float(entry[len(_RATIO_PREFIX) :])
    except ValueError:
        return None
    # NaN fails both comparisons; 1 needs no multiplier.
    return ratio if floor <= ratio < 1 else None


def configured_sampler(environ: Mapping[str, str] | None = None) -> SampleRatioSampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` name, built as the SDK builds
    it from them (an unknown name or a bad ratio falls back as the SDK's does, with a warning), and
    wrapped so its kept spans carry ``SAMPLE_RATIO``."""
    environ = os.environ if environ is None else environ
    log = logging.getLogger(__name__)
    name = (environ.get(OTEL_TRACES_SAMPLER) or _DEFAULT_SAMPLER).strip().lower()
    fixed = {  # each with the bound below which it keeps a root's trace id
        "always_on": (sampling.ALWAYS_ON, _KEEP_ALL),
        "always_off": (sampling.ALWAYS_OFF, 0),
        "parentbased_always_on": (sampling.DEFAULT_ON, _KEEP_ALL),
        "parentbased_always_off": (sampling.DEFAULT_OFF, 0),
    }
    if name in fixed:
        sampler, keep_below = fixed[name]
        return SampleRatioSampler(
            sampler, 1.0, parent_based=name.startswith("parentbased_"), keep_below=keep_below
        )
    if name not in ("traceidratio", "parentbased_traceidratio"):
        log.warning("%s=%s is not a sampler the SDK knows: keeping every trace", OTEL_TRACES_SAMPLER, name)
        return SampleRatioSampler(sampling.DEFAULT_ON, 1.0, parent_based=True, keep_below=_KEEP_ALL)
    raw = environ.get(OTEL_TRACES_SAMPLER_ARG, "")
    try:
        ratio = float(raw)
        if not 0 <= ratio <= 1:
            raise ValueError(raw)
    except ValueError:
        log.warning("%s=%r is not a ratio from 0 to 1: keeping every trace", OTEL_TRACES_SAMPLER_ARG, raw)
        ratio = 1.0
    root = sampling.TraceIdRatioBased(ratio)
    if name == "traceidratio":
        return SampleRatioSampler(root, ratio, parent_based=False, keep_below=root.bound)
    return SampleRatioSampler(sampling.ParentBased(root), ratio, parent_based=True, keep_below=root.bound)


class _DecidedTraceIds(RandomIdGenerator):
    """Random ids, except that the next trace id of a thread can be set beforehand: the one a
    SamplingFirstTracer already decided to keep, which the SDK's tracer must then use (its sampler,
    asked again, decides the same on the same id)."""

    def __init__(self) -> None:
        self._next = threading.local()

    def decided(self, trace_id: int | None) -> None:
        self._next.trace_id = trace_id

    def random_trace_id(self) -> int:
        return super().generate_trace_id()

    def generate_trace_id(self) -> int:
        trace_id = getattr(self._next, "trace_id", None)
        if trace_id is None:
            return super().generate_trace_id()
        self._next.trace_id = None
        return trace_id


# What the SDK gives an unsampled span: no sampled bit, the random-trace-id bit (W3C level 2) as
# the trace's, since ids here are random.
_UNSAMPLED = {False: TraceFlags(TraceFlags.DEFAULT), True: TraceFlags(TraceFlags.RANDOM_TRACE_ID)}
_NO_TRACE_STATE = TraceState()


class SamplingFirstTracer(trace.Tracer):
    """The SDK's tracer, with the sampling decision taken before any span object is built.

    An unsampled span (90 % of requests at 10 % sampling, and every span under them) needs only
    its context, to propagate and to log: here it is a NonRecordingSpan with the same trace id,
    flags and trace state the SDK would give it, without the SDK's sampler results, flags objects
    and internal metrics on the way. Every span that may be kept goes through the SDK's
    ``start_span`` unchanged (a kept root with the trace id decided here)."""

    def __init__(self, tracer: Tracer, sampler: SampleRatioSampler, ids: _DecidedTraceIds) -> None:
        self._tracer = tracer
        self._sampler = sampler
        self._ids = ids

    def start_span(
        self,
        name: str,
        context=None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes=None,
        links=None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            trace_id = parent.trace_id
        else:
            parent = None
            trace_id = self._ids.random_trace_id()
        if self._sampler.drops(parent, trace_id):
            if parent is None:
                flags, state = _UNSAMPLED[True], _NO_TRACE_STATE
            else:
                flags, state = _UNSAMPLED[parent.trace_flags.random_trace_id], parent.trace_state
            span_id = self._ids.generate_span_id()
            return NonRecordingSpan(SpanContext(trace_id, span_id, False, flags, state))
        if parent is not None:
            return self._tracer.start_span(
                name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
            )
        self._ids.decided(trace_id)
        try:
            return self._tracer.start_span(
                name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
            )
        finally:
            # Used by now, unless the SDK's tracer returned early (disabled): never for another root.
            self._ids.decided(None)

    # As the SDK's tracer has it, around this start_span.
    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context=None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes=None,
        links=None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ):
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class SamplingFirstTracerProvider(TracerProvider):
    """The SDK's TracerProvider, whose tracers decide sampling first (SamplingFirstTracer) when its
    sampler is the kit's and may drop roots."""

    def __init__(self, **kwargs) -> None:
        self._decided_ids = _DecidedTraceIds()
        super().__init__(id_generator=self._decided_ids, **kwargs)

    def get_tracer(self, *args, **kwargs) -> trace.Tracer:
        tracer = super().get_tracer(*args, **kwargs)
        sampler = self.sampler
        # Where every root is kept (100 %), deciding first saves nothing on the spans that count
        # and costs a microsecond on each: the SDK's tracer as it is.
        if (
            isinstance(tracer, Tracer)
            and isinstance(sampler, SampleRatioSampler)
            and not sampler.keeps_every_root
        ):
            return SamplingFirstTracer(tracer, sampler, self._decided_ids)
        return tracer


def build_tracer_provider(service: str, version: str, settings: Settings) -> TracerProvider:
    provider = SamplingFirstTracerProvider(
        resource=build_resource(service, version, settings), sampler=configured_sampler()
    )
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


# A batch (512 spans by default) is encoded 64 spans at a time: under 1 ms of the GIL each.
_SPANS_PER_LINE = 64


class SpanFile(SpanExporter):
    """One OTLP/JSON ExportTraceServiceRequest a line (the SDK's FileSpanExporter's format, encoded
    by ``_otlp_json`` at a quarter of the SDK encoder's cost): what the Collector's otlpjsonfile
    receiver and `airscope trace` read. Each batch's line lands whole or not at all.

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
        lines = []
        for start in range(0, len(spans), _SPANS_PER_LINE):
            if start:
                # Encoding holds the GIL; the event loop waiting for it would wait a whole switch
                # interval (5 ms) each time. Let it go between lines instead.
                time.sleep(0)
            lines.append(encode_line(spans[start : start + _SPANS_PER_LINE]))
        try:
            self._append(b"".join(lines))
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
