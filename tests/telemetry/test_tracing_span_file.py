"""SpanFile writes a batch as lines of at most _SPANS_PER_LINE spans (so that encoding never holds
the GIL for long), in one write, every span readable by `airscope trace`."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from airscope.local.traces import parse_line, read_spans
from airscope.telemetry._tracing import _SPANS_PER_LINE, SpanFile


def test_a_large_batch_is_written_as_lines_of_a_bounded_number_of_spans(tmp_path):
    made = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(made))
    count = 2 * _SPANS_PER_LINE + 3
    for index in range(count):
        provider.get_tracer("test").start_span(f"span {index}").end()
    path = tmp_path / "svc.jsonl"
    span_file = SpanFile(path)
    try:
        assert span_file.export(made.get_finished_spans()) is SpanExportResult.SUCCESS
    finally:
        span_file.shutdown()
    lines = path.read_bytes().splitlines()
    assert [len(parse_line(line)) for line in lines] == [_SPANS_PER_LINE, _SPANS_PER_LINE, 3]
    assert [span.name for span in read_spans(path)] == [f"span {index}" for index in range(count)]
