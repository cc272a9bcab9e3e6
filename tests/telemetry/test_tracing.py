import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from airscope.local.traces import Span, parse_line, read_spans
from airscope.telemetry import DROPPED, Settings
from airscope.telemetry._tracing import CountingBatchSpanProcessor, SafeExporter, build_tracer_provider
from tests.servers import AppServer
from tests.support import wait_until


@pytest.fixture
def serve(run_app: Callable[..., AppServer]) -> Callable[..., AppServer]:
    """Starts tests.telemetry.apps:create_relay_app under uvicorn with the given environment."""

    def start(service: str, **env: str) -> AppServer:
        unset = {
            name: None for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER") if name not in env
        }
        return run_app(
            "tests.telemetry.apps:create_relay_app",
            {"SAMPLE_SERVICE": service, **unset, **env},
            ready_path="/health/live",
            args=["--no-access-log"],
        )

    return start


def wait_for_spans(trace_dir: Path, count: int, timeout: float = 15) -> list[Span]:
    def enough() -> list[Span]:
        spans = read_spans(trace_dir)
        assert len(spans) >= count, f"{len(spans)} spans"
        return spans

    return wait_until(enough, timeout, message=f"{count} spans exported")


@pytest.mark.parametrize("client", ["httpx", "httpx2"])
def test_trace_context_propagates_through_a_real_httpx_call_between_two_uvicorn_apps(serve, tmp_path, client):
    env = {"AIRSCOPE_TRACE_DIR": str(tmp_path / "traces"), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    backend = serve("backend", **env)
    frontend = serve("frontend", RELAY_TARGET=backend.url, **env)

    response = httpx.get(frontend.url + "/relay", params={"client": client}, timeout=10)
    # The request id the frontend answered with is the one the backend saw.
    assert response.status_code == 200 and response.json() == {
        "downstream_status": 200,
        "downstream_request_id": response.headers["x-request-id"],
    }
    trace_id = response.headers["x-trace-id"]

    spans = wait_for_spans(tmp_path / "traces", 3)
    in_trace = [s for s in spans if s.trace_id == trace_id]
    by_kind = {(s.service, s.kind): s for s in in_trace}
    # One server span per request (FastAPI's own would be a second), one client span per call.
    assert sorted((s.service, s.kind) for s in in_trace) == sorted(by_kind)
    server_front = by_kind[("frontend", 2)]
    client_front = by_kind[("frontend", 3)]
    server_back = by_kind[("backend", 2)]
    assert server_front.name == "GET /relay" and server_front.parent_span_id is None
    assert client_front.parent_span_id == server_front.span_id
    assert server_back.parent_span_id == client_front.span_id
    assert server_back.name == "GET /items/{item_id}"
    assert len(trace_id) == 32 and all(len(s.span_id) == 16 for s in by_kind.values())

    # The backend's log lines carry the same trace id as the span they were written in.
    item_line = next(line for line in backend.log_records() if line.get("event") == "item fetched")
    assert item_line["trace_id"] == trace_id and item_line["span_id"] == server_back.span_id


def test_an_unreachable_otlp_endpoint_leaves_latency_and_status_untouched(serve):
    # A blackhole: accepts connections (backlog) and never answers, the worst kind of outage.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(1024)
    endpoint = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
    quick = {"OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}
    healthy = serve("healthy", OTEL_TRACES_EXPORTER="none", **quick)
    broken = serve("broken", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, **quick)
    try:
        timings = {}
        with httpx.Client(timeout=10) as client:
            for server in (healthy, broken, healthy, broken):
                samples = timings.setdefault(server, [])
                for _ in range(150):
                    started = time.perf_counter()
                    assert client.get(server.url + "/items/1").status_code == 200
                    samples.append(time.perf_counter() - started)

            def some_dropped() -> bool:
                client.get(broken.url + "/items/1")
                return dropped(client, broken) > 0

            wait_until(some_dropped, 20, 0.2, message="spans for the black hole dropped")
            assert dropped(client, healthy) == 0
    finally:
        blackhole.close()
    # Not a timing goal: a request blocked on the exporter would take its 1 s timeout or more.
    assert max(timings[broken]) < 0.5
    assert statistics.median(timings[broken]) < 3 * statistics.median(timings[healthy]) + 0.005


def dropped(client: httpx.Client, server: AppServer) -> float:
    for line in client.get(server.url + "/metrics").text.splitlines():
        if line.startswith('telemetry_dropped_total{signal="traces"}'):
            return float(line.split()[-1])
    raise AssertionError("telemetry_dropped_total{signal=traces} missing")


class Stuck(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans):
        self.release.wait(5)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_a_full_span_queue_drops_and_counts():
    stuck = Stuck()
    processor = CountingBatchSpanProcessor(stuck, max_queue_size=10, max_export_batch_size=5)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    before = DROPPED.value("traces")
    for _ in range(100):
        tracer.start_span("x").end()
    assert DROPPED.value("traces") - before >= 80
    stuck.release.set()
    provider.shutdown()


def test_a_failed_export_counts_its_spans_as_dropped():
    class Failing(SpanExporter):
        def export(self, spans):
            raise ConnectionError("collector down")

    provider = TracerProvider()
    spans = []
    tracer = provider.get_tracer("test")
    for _ in range(3):
        span = tracer.start_span("x")
        span.end()
        spans.append(span)
    before = DROPPED.value("traces")
    assert SafeExporter(Failing()).export(spans) is SpanExportResult.FAILURE
    assert DROPPED.value("traces") == before + 3


def test_the_trace_dir_gets_otlp_json_lines_with_hex_ids_and_the_resource(tmp_path):
    provider = build_tracer_provider(
        "svc", "2.0", Settings(environment="test", trace_dir=str(tmp_path / "t"))
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
        pass
    provider.shutdown()
    (line,) = (tmp_path / "t" / "svc.jsonl").read_bytes().splitlines()
    child, parent = parse_line(line)
    assert child.parent_span_id == parent.span_id and child.trace_id == parent.trace_id
    assert len(parent.trace_id) == 32 and int(parent.trace_id, 16)
    assert len(parent.span_id) == 16 and int(parent.span_id, 16)
    resource = parent.resource
    assert resource["service.name"] == "svc" and resource["service.version"] == "2.0"
    assert resource["deployment.environment"] == "test" and resource["service.instance.id"]


def test_settings_choose_exporters_from_the_environment():
    assert not Settings.from_env({}).otlp_enabled
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).otlp_enabled
    assert not Settings.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}
    ).otlp_enabled
    assert Settings.from_env({"AIRSCOPE_TRACE_DIR": "/x"}).trace_dir == "/x"
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        Settings.from_env({"LOG_LEVEL": "loud"})


def test_spans_and_access_lines_are_flushed_when_the_service_stops(serve, tmp_path):
    # The default 5 s batch delay: only the shutdown flush can have written the span in time.
    server = serve("stopping", AIRSCOPE_TRACE_DIR=str(tmp_path / "traces"))
    trace_id = httpx.get(server.url + "/items/1").headers["x-trace-id"]
    server.process.terminate()
    server.process.wait(timeout=10)
    spans = read_spans(tmp_path / "traces" / "stopping.jsonl")
    assert [s.name for s in spans if s.trace_id == trace_id] == ["GET /items/{item_id}"]
    assert [
        line["path"]
        for line in server.log_records()
        if line.get("trace_id") == trace_id and line["event"] == "request"
    ] == ["/items/1"]


@pytest.mark.infra
def test_postgres_and_redis_calls_are_client_spans_under_the_server_span(
    serve, tmp_path, postgres_server, redis_server
):
    server = serve(
        "deps",
        AIRSCOPE_TRACE_DIR=str(tmp_path / "traces"),
        OTEL_BSP_SCHEDULE_DELAY="100",
        SAMPLE_DSN=postgres_server.dsn(),
        SAMPLE_REDIS_URL=redis_server.url,
    )
    response = httpx.get(server.url + "/deps", timeout=10)
    assert response.json() == {"answer": 42}
    trace_id = response.headers["x-trace-id"]
    spans = [s for s in wait_for_spans(tmp_path / "traces", 3) if s.trace_id == trace_id]
    (root,) = [s for s in spans if s.kind == 2]
    clients = [s for s in spans if s.kind == 3]
    systems = {
        value
        for span in clients
        for key, value in span.attributes().items()
        if key in ("db.system", "db.system.name")
    }
    assert {"postgresql", "redis"} <= systems
    assert all(span.parent_span_id == root.span_id for span in clients)


@pytest.mark.anyio
async def test_calls_made_untraced_make_no_spans_and_the_next_ones_do():
    from fastapi import FastAPI
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    from airscope.telemetry import untraced
    from airscope.telemetry.testing import in_memory_tracer_provider

    provider, spans = in_memory_tracer_provider()
    upstream = FastAPI()

    @upstream.get("/tick")
    async def tick() -> dict:
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream), base_url="http://up") as client:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
        with untraced():
            await client.get("/tick")
        assert spans.get_finished_spans() == ()
        await client.get("/tick")
    assert [span.name for span in spans.get_finished_spans()] == ["GET"]
