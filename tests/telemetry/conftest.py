from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from airscope.telemetry import Instrumentation, instrument
from airscope.telemetry.testing import CapturedLines, capture_log_lines, in_memory_tracer_provider
from tests.telemetry.apps import sample_app


@dataclass
class Kit:
    app: FastAPI
    instrumentation: Instrumentation
    registry: CollectorRegistry
    spans: InMemorySpanExporter
    logs: CapturedLines

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def series(self, name: str) -> int:
        return sum(1 for metric in self.registry.collect() for s in metric.samples if s.name == name)


@pytest.fixture
def make_kit() -> Iterator:
    """Builds an instrumented app with its own registry, in-memory spans and captured logs."""
    cleanups = []

    def build(app: FastAPI | None = None, **options) -> Kit:
        app = app or sample_app()
        registry = CollectorRegistry()
        provider, spans = in_memory_tracer_provider()
        capture = capture_log_lines("sample")
        logs = capture.__enter__()
        cleanups.append(lambda: capture.__exit__(None, None, None))
        options.setdefault("tracer_provider", provider)
        instrumentation = instrument(app, service="sample", version="1.2.3", registry=registry, **options)
        cleanups.append(instrumentation.uninstrument)
        return Kit(app, instrumentation, registry, spans, logs)

    yield build
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.fixture
def kit(make_kit) -> Kit:
    return make_kit()
