"""SafeExporter: no secret leaves the process in a span's attributes or events; a span without one
is passed on as it is, not copied."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from airscope.telemetry._redact import REDACTED
from airscope.telemetry._tracing import SafeExporter


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans = []

    def export(self, spans):
        self.spans += spans
        return SpanExportResult.SUCCESS


def exported(attributes: dict, event: dict | None = None):
    made = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(made))
    span = provider.get_tracer("test").start_span("GET", attributes=attributes)
    if event is not None:
        span.add_event("call", event)
    span.end()
    [original] = made.get_finished_spans()
    keep = Keep()
    assert SafeExporter(keep).export([original]) is SpanExportResult.SUCCESS
    return original, keep.spans[0]


def test_a_span_without_secrets_is_passed_on_unchanged():
    attributes = {"http.request.method": "GET", "url.path": "/hello/world", "http.response.status_code": 200}
    for _ in range(2):  # the second time from the remembered verdicts
        original, sent = exported(attributes)
        assert sent is original


def test_secret_keys_and_secrets_in_text_are_redacted_in_attributes_and_events():
    dsn = "postgresql://airscope:hunter2@db:5432/airscope"
    long_text = "x" * 300 + " Authorization: Bearer abc.def"
    for _ in range(2):  # the second time from the remembered verdicts
        original, sent = exported(
            {"api_key": "k-123", "db.dsn": dsn, "note": long_text, "http.route": "/x"},
            event={"header": "Bearer abc.def"},
        )
        assert sent is not original
        assert sent.attributes["api_key"] == REDACTED
        assert sent.attributes["db.dsn"] == f"postgresql://airscope:{REDACTED}@db:5432/airscope"
        assert "abc.def" not in sent.attributes["note"] and sent.attributes["http.route"] == "/x"
        assert sent.events[0].attributes["header"] == f"Bearer {REDACTED}"


def test_a_secret_only_in_an_event_is_redacted():
    original, sent = exported({"http.route": "/x"}, event={"password": "p"})
    assert sent.attributes == original.attributes
    assert sent.events[0].attributes["password"] == REDACTED
