"""The span file's encoder writes the document the SDK's OTLP/JSON encoder writes, span for span."""

from __future__ import annotations

import math

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from airscope.local.traces import parse_line
from airscope.telemetry._otlp_json import encode_line

REMOTE = TraceContextTextMapPropagator().extract(
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=1,b=2"}
)


def spans_of_every_shape():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("airscope.test", "1.2", schema_url="https://schema", attributes={"s": 1})
    bare = provider.get_tracer("bare")
    with tracer.start_as_current_span("GET /x", context=REMOTE, kind=SpanKind.SERVER) as server:
        server.set_attributes(
            {
                "str": "v",
                "empty": "",
                "int": 7,
                "zero": 0,
                "big": 2**62,
                "float": 1.5,
                "nan": math.nan,
                "inf": -math.inf,
                "yes": True,
                "no": False,
                "strs": ["a", ""],
                "ints": (1, 2),
                "floats": [0.5],
                "bools": [False],
                "none": [],
            }
        )
        server.add_event("retry", {"attempt": 2})
        server.add_event("bare")
        with bare.start_as_current_span("", kind=SpanKind.CLIENT) as client:
            client.set_status(Status(StatusCode.ERROR, "boom"))
        linked = tracer.start_span(
            "consume", kind=SpanKind.CONSUMER, links=[Link(server.get_span_context(), {"k": "v"})]
        )
        linked.set_status(Status(StatusCode.OK))
        linked.end()
        tracer.start_span("produce", kind=SpanKind.PRODUCER, links=[Link(REMOTE_CONTEXT)]).end()
    tracer.start_span("root").end()
    return exporter.get_finished_spans()


REMOTE_CONTEXT = trace.get_current_span(REMOTE).get_span_context()


def test_every_shape_of_span_encodes_as_the_sdk_encodes_it():
    spans = spans_of_every_shape()
    line = encode_line(spans)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line) == encode_spans(spans).to_dict()


@pytest.mark.parametrize("index", range(5))
def test_each_span_alone_encodes_as_the_sdk_encodes_it(index):
    span = spans_of_every_shape()[index]
    assert orjson.loads(encode_line([span])) == encode_spans([span]).to_dict()


def test_airscope_trace_reads_what_is_written():
    spans = spans_of_every_shape()
    read = parse_line(encode_line(spans))
    assert [span.name for span in read] == [span.name for span in spans]
    assert {span.service for span in read} == {"svc"}
