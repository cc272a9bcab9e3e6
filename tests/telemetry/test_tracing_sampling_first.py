"""SamplingFirstTracer: sampling decided before any span object is built, with the same trace ids,
flags, trace state and propagation as the SDK's tracer, and the same traces kept."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from airscope.telemetry import SAMPLE_RATIO, Settings
from airscope.telemetry._tracing import (
    SamplingFirstTracer,
    SamplingFirstTracerProvider,
    build_tracer_provider,
    configured_sampler,
)

PROPAGATOR = TraceContextTextMapPropagator()
TRACE = "0af7651916cd43dd8448eb211c80319c"
UNSAMPLED_PARENT = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-00", "tracestate": "vendor=x"}
SAMPLED_PARENT = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01", "tracestate": "airscope=ratio:0.5"}


def tracer(**env: str) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = SamplingFirstTracerProvider(sampler=configured_sampler(env))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def ratio(value: str) -> dict[str, str]:
    return {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": value}


def outgoing(span: trace.Span) -> dict[str, str]:
    headers: dict[str, str] = {}
    PROPAGATOR.inject(headers, trace.set_span_in_context(span))
    return headers


def test_the_kit_builds_its_provider_with_tracers_that_sample_first(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    provider = build_tracer_provider("svc", "1", Settings())
    try:
        assert isinstance(provider.get_tracer("x"), SamplingFirstTracer)
    finally:
        provider.shutdown()


def test_at_100_percent_the_tracer_is_the_sdks_own():
    # Nothing to decide first where every root is kept: no microsecond added to each kept span.
    assert type(tracer(OTEL_TRACES_SAMPLER="parentbased_always_on")[0]) is Tracer


def test_an_unsampled_root_is_a_context_only_span_that_still_propagates():
    kit, exporter = tracer(**ratio("0"))
    span = kit.start_span("GET", kind=SpanKind.SERVER)
    context = span.get_span_context()
    assert isinstance(span, NonRecordingSpan) and not span.is_recording()
    assert context.is_valid and not context.is_remote
    # As the SDK's: not sampled, trace id flagged random (W3C level 2), no trace state.
    assert context.trace_flags == 0x02 and len(context.trace_state) == 0
    trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
    assert outgoing(span) == {"traceparent": f"00-{trace_id}-{span_id}-02"}
    span.end()
    assert exporter.get_finished_spans() == ()


def test_a_child_of_an_unsampled_caller_keeps_its_trace_and_trace_state():
    kit, exporter = tracer(**ratio("1"))  # would keep any root: the caller's decision wins
    span = kit.start_span("GET", context=PROPAGATOR.extract(UNSAMPLED_PARENT), kind=SpanKind.SERVER)
    assert not span.is_recording()
    headers = outgoing(span)
    assert headers["traceparent"].startswith(f"00-{TRACE}-") and headers["traceparent"].endswith("-00")
    assert headers["traceparent"] != UNSAMPLED_PARENT["traceparent"]  # a span id of its own
    assert headers["tracestate"] == "vendor=x"
    span.end()
    assert exporter.get_finished_spans() == ()


def test_a_child_of_a_sampled_caller_is_the_sdks_span_with_the_callers_ratio():
    kit, exporter = tracer(**ratio("0.1"))
    caller = PROPAGATOR.extract(SAMPLED_PARENT)
    with (
        kit.start_as_current_span("GET", context=caller, kind=SpanKind.SERVER),
        kit.start_as_current_span("SQL"),
    ):
        pass
    child, server = exporter.get_finished_spans()
    assert format(server.context.trace_id, "032x") == TRACE
    assert format(server.parent.span_id, "016x") == "b7ad6b7169203331"
    assert child.parent.span_id == server.context.span_id
    assert server.attributes[SAMPLE_RATIO] == 0.5 and child.attributes[SAMPLE_RATIO] == 0.5


def test_children_of_an_unsampled_root_in_this_process_are_unsampled_in_its_trace():
    kit, exporter = tracer(**ratio("0"))
    with kit.start_as_current_span("GET") as root, kit.start_as_current_span("SELECT") as child:
        assert not child.is_recording()
        assert child.get_span_context().trace_id == root.get_span_context().trace_id
        assert child.get_span_context().span_id != root.get_span_context().span_id
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize("name", ["parentbased_traceidratio", "traceidratio"])
def test_roots_are_kept_exactly_when_the_sdks_ratio_sampler_keeps_their_trace_id(name):
    kit, exporter = tracer(OTEL_TRACES_SAMPLER=name, OTEL_TRACES_SAMPLER_ARG="0.25")
    bound = TraceIdRatioBased(0.25).bound
    spans = [kit.start_span("GET") for _ in range(2000)]
    for span in spans:
        span.end()
    kept = {span.context.trace_id for span in exporter.get_finished_spans()}
    for span in spans:
        trace_id = span.get_span_context().trace_id
        assert (trace_id in kept) == (trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound)
        assert span.is_recording() is False  # ended
    assert 0.2 < len(kept) / len(spans) < 0.3
    # A kept root is the SDK's span, with the ratio it was kept at.
    assert all(span.attributes[SAMPLE_RATIO] == 0.25 for span in exporter.get_finished_spans())


def test_every_span_is_kept_at_100_percent_and_none_when_always_off():
    kit, exporter = tracer(OTEL_TRACES_SAMPLER="parentbased_always_on")
    kit.start_span("GET").end()
    assert len(exporter.get_finished_spans()) == 1
    kit, exporter = tracer(OTEL_TRACES_SAMPLER="always_off")
    span = kit.start_span("GET", context=PROPAGATOR.extract(SAMPLED_PARENT))
    assert not span.is_recording() and span.get_span_context().trace_flags.sampled is False


def test_a_provider_with_another_sampler_hands_out_the_sdks_tracer():
    plain = SamplingFirstTracerProvider(sampler=TraceIdRatioBased(0.5)).get_tracer("x")
    assert not isinstance(plain, SamplingFirstTracer)
    assert isinstance(TracerProvider().get_tracer("x"), trace.Tracer)
