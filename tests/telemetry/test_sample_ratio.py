"""The share of traces a kept span stands for (SAMPLE_RATIO), which Tempo's metrics-generator
multiplies its service graph and span metrics by: on the spans whose keeping that ratio decided, and
only there."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from airscope.stack import tempo
from airscope.telemetry import SAMPLE_RATIO
from airscope.telemetry._tracing import configured_sampler

PROPAGATOR = TraceContextTextMapPropagator()
KEPT = "0" * 31 + "1"  # a trace id TraceIdRatioBased keeps at any ratio above 0
SAMPLED_PARENT = f"00-{KEPT}-00000000000000aa-01"


def service(**env: str) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=configured_sampler(env))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def production(ratio: str = "0.1") -> tuple[trace.Tracer, InMemorySpanExporter]:
    return service(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG=ratio)


def request(tracer: trace.Tracer, headers: dict[str, str] | None = None) -> dict[str, str]:
    """A server span (from ``headers``' trace context, if any) with a child calling downstream: the
    headers that call carries."""
    parent = PROPAGATOR.extract(headers) if headers else None
    outgoing: dict[str, str] = {}
    with (
        tracer.start_as_current_span("GET", context=parent, kind=SpanKind.SERVER),
        tracer.start_as_current_span("call downstream", kind=SpanKind.CLIENT),
    ):
        PROPAGATOR.inject(outgoing)
    return outgoing


def ratios(exporter: InMemorySpanExporter) -> dict[str, float | None]:
    return {span.name: span.attributes.get(SAMPLE_RATIO) for span in exporter.get_finished_spans()}


def keep_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """New traces get the id every ratio keeps, so the test does not depend on chance."""
    from opentelemetry.sdk.trace import id_generator

    monkeypatch.setattr(id_generator.RandomIdGenerator, "generate_trace_id", lambda self: int(KEPT, 16))


def test_a_trace_kept_at_one_in_ten_counts_ten_times_on_every_span_of_every_service(monkeypatch):
    keep_trace(monkeypatch)
    gateway, gateway_spans = production()
    orchestrator, orchestrator_spans = production()

    headers = request(gateway)
    request(orchestrator, headers)

    # The root and its local child, and the next service's spans, which kept the trace because the
    # root did: all stand for ten requests.
    assert ratios(gateway_spans) == {"GET": 0.1, "call downstream": 0.1}
    assert ratios(orchestrator_spans) == {"GET": 0.1, "call downstream": 0.1}
    assert "airscope=ratio:0.1" in headers["tracestate"]


def test_a_trace_begun_elsewhere_counts_once(monkeypatch):
    # A browser or another system decided to keep it, at a ratio this service does not know: the
    # spans are what was kept of it, counted as they are.
    orchestrator, spans = production()
    request(orchestrator, {"traceparent": SAMPLED_PARENT, "tracestate": "vendor=x"})
    assert ratios(spans) == {"GET": None, "call downstream": None}


@pytest.mark.parametrize("forged", ["ratio:0.000001", "ratio:nan", "ratio:", "ratio:1", "0.1"])
def test_a_ratio_a_caller_could_forge_to_inflate_the_map_is_not_believed(forged):
    orchestrator, spans = production()
    request(orchestrator, {"traceparent": SAMPLED_PARENT, "tracestate": f"airscope={forged}"})
    assert ratios(spans) == {"GET": None, "call downstream": None}


def test_a_caller_sampling_less_often_than_this_service_is_believed_down_to_its_own_ratio():
    orchestrator, spans = production("0.1")
    request(orchestrator, {"traceparent": SAMPLED_PARENT, "tracestate": "airscope=ratio:0.5"})
    assert ratios(spans) == {"GET": 0.5, "call downstream": 0.5}


@pytest.mark.parametrize(
    "env",
    [
        {},  # the SDK's default, parentbased_always_on: local mode keeps every trace
        {"OTEL_TRACES_SAMPLER": "always_on"},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "tenth"},
    ],
)
def test_keeping_every_trace_adds_no_multiplier(env, monkeypatch):
    keep_trace(monkeypatch)
    tracer, spans = service(**env)
    headers = request(tracer)
    assert ratios(spans) == {"GET": None, "call downstream": None}
    assert "airscope" not in headers.get("tracestate", "")


def test_without_a_parent_based_sampler_each_span_is_decided_by_the_ratio(monkeypatch):
    keep_trace(monkeypatch)
    tracer, spans = service(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.25")
    request(tracer, {"traceparent": SAMPLED_PARENT})
    assert ratios(spans) == {"GET": 0.25, "call downstream": 0.25}


def test_a_dropped_trace_is_dropped_and_its_context_says_so():
    dropped = "f" * 32  # above every ratio's bound but 1
    tracer, spans = production()
    headers = request(tracer, {"traceparent": f"00-{dropped}-00000000000000aa-00"})
    assert spans.get_finished_spans() == ()
    assert headers["traceparent"].endswith("-00")


def test_tempo_multiplies_both_processors_by_the_attribute_the_kit_writes():
    processors = tempo.config()["metrics_generator"]["processor"]
    assert processors["service_graphs"]["span_multiplier_key"] == SAMPLE_RATIO
    assert processors["span_metrics"]["span_multiplier_key"] == SAMPLE_RATIO
