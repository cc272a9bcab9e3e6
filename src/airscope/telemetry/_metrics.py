"""The kit's Prometheus metrics: RED metrics of the HTTP server, build info, dropped telemetry."""

from __future__ import annotations

import threading
from collections import Counter as _Tally

from prometheus_client import CollectorRegistry, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# OpenTelemetry's recommended boundaries for http.server.request.duration, which resolve the
# 5 ms - 1 s range where web latency SLOs sit, plus 30 s for LLM-backed chat requests.
# Fifteen finite buckets: enough to place p95 within one bucket, few enough to keep series cheap.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)

SIGNALS = ("traces", "logs")

# *_created samples would double the series of every histogram and counter for a value that no
# dashboard or alert of ours reads.
disable_created_metrics()


class DroppedTelemetry:
    """Counts telemetry the kit gave up on instead of buffering it without bound.

    Process-wide because the exporters are process-wide; every instrumented registry exposes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: _Tally[str] = _Tally({signal: 0 for signal in SIGNALS})

    def add(self, signal: str, count: int = 1) -> None:
        with self._lock:
            self._counts[signal] += count

    def value(self, signal: str) -> int:
        return self._counts[signal]

    def collect(self):
        family = CounterMetricFamily(
            "telemetry_dropped",
            "Telemetry items dropped because an exporter or output was full or failing.",
            labels=["signal"],
        )
        for signal, count in sorted(self._counts.items()):
            family.add_metric([signal], count)
        yield family


DROPPED = DroppedTelemetry()


class HttpServerMetrics:
    """The metrics the middleware records, created on one registry."""

    def __init__(self, registry: CollectorRegistry, *, version: str, commit: str, process: bool) -> None:
        self.registry = registry
        self.duration = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests, by method, route template and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # A plain count, read at scrape time: the middleware runs on the event loop's one
        # thread, so the gauge's lock on every inc() and dec() would buy nothing.
        self.active_requests = 0
        self.active = Gauge(
            "http_server_active_requests",
            "HTTP server requests in flight.",
            registry=registry,
        )
        self.active.set_function(lambda: self.active_requests)
        self.build_info = Gauge(
            "service_build_info",
            "Always 1; labels carry the running build.",
            ["version", "commit"],
            registry=registry,
        )
        self.build_info.labels(version=version, commit=commit).set(1)
        self._collectors = [self.duration, self.active, self.build_info, DROPPED]
        registry.register(DROPPED)
        if process:
            self._collectors += [
                ProcessCollector(registry=registry),
                PlatformCollector(registry=registry),
                GCCollector(registry=registry),
            ]
        # Children cached by label tuple: .labels() takes a lock and validates on every call, and
        # the key space is closed (known methods x route templates x status codes).
        self._children: dict[tuple[str, str, int], object] = {}

    def duration_child(self, method: str, route: str, status: int):
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.duration.labels(method, route, str(status))
        return child

    def unregister(self) -> None:
        for collector in self._collectors:
            self.registry.unregister(collector)
