"""Helpers for tests of instrumented services: capture log lines, collect spans."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from airscope.telemetry._logging import configure_logging, reset_logging


class CapturedLines:
    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def text(self) -> str:
        return self._buffer.getvalue()

    def records(self) -> list[dict]:
        """Every line parsed as JSON (raises if any line is not a JSON object)."""
        return [json.loads(line) for line in self.text.splitlines()]


@contextmanager
def capture_log_lines(service: str = "test", level: str = "debug") -> Iterator[CapturedLines]:
    """Configures the kit's JSON logging into memory; the rendered lines, as a service writes them."""
    buffer = io.StringIO()
    configure_logging(service, level=level, stream=buffer)
    try:
        yield CapturedLines(buffer)
    finally:
        reset_logging()


def in_memory_tracer_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider that keeps finished spans in memory, synchronously."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter
