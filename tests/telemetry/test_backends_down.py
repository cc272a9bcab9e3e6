"""The kit with its telemetry backends down: a stdout no one reads, an OTLP endpoint that refuses or
never answers, a trace directory on a full disk. Requests keep succeeding without waiting on any of
them; what cannot leave is dropped and counted, and what waits to leave is bounded."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from airscope.bench.telemetry_outage import black_hole, fill, full_tmpfs, refusing, stuck_pipe
from airscope.local.traces import parse_line, read_spans
from airscope.telemetry import DROPPED, Settings, _logging, configure_logging, instrument, reset_logging
from airscope.telemetry._tracing import SpanFile, build_tracer_provider
from airscope.telemetry.testing import capture_log_lines
from tests.servers import AppServer
from tests.support import wait_until
from tests.telemetry.apps import sample_app

REQUESTS = 1000
# A request that waited on a dead backend would take the export timeout, or forever on a stuck pipe.
SLOW_SECONDS = 1.0


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    try:
        with full_tmpfs(tmp_path / "full", size="1m") as directory:
            yield directory
    except PermissionError as error:
        pytest.skip(f"a full disk is a tmpfs mounted here, which needs root: {error}")


def serve_requests(app, count: int, on_each=lambda: None) -> list[float]:
    """Sends ``count`` requests to ``app`` in a thread of their own; their durations, all 200.

    The thread bounds the test: a request blocked in a write would hang it, not the test run."""
    durations: list[float] = []
    failures: list[BaseException] = []

    async def send() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for item in range(count):
                began = time.perf_counter()
                response = await client.get(f"/items/{item}")
                durations.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
                on_each()

    def run() -> None:
        try:
            asyncio.run(send())
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), f"requests stuck after {len(durations)} of {count}"
    if failures:
        raise failures[0]
    return durations


def test_a_stdout_no_one_reads_blocks_no_request_and_drops_what_does_not_fit():
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", closefd=False)  # noqa: SIM115 (closed with the pipe below)
    configure_logging("svc", stream=stream)
    writer = _logging.writer_for(stream)
    writer.max_bytes = 128 * 1024  # twice the pipe: full within a few hundred requests
    app = sample_app()
    instrumentation = instrument(app, service="svc", version="1", registry=CollectorRegistry(), tracing=False)
    held: list[int] = []
    before = DROPPED.value("logs")
    try:
        durations = serve_requests(app, REQUESTS, on_each=lambda: held.append(writer.pending_bytes))
    finally:
        instrumentation.uninstrument()
        reset_logging()
        os.close(read_end)  # the writer's blocked write fails (EPIPE): it lets go of the descriptor
        writer.drain(5)
        _logging._descriptor_writers.pop(write_end, None)
        stream.close()
        os.close(write_end)
    # Two lines a request ("item fetched" and the access line), most of which found no room.
    assert DROPPED.value("logs") - before > REQUESTS
    assert max(held) <= writer.max_bytes
    assert max(durations) < SLOW_SECONDS


@pytest.mark.parametrize("endpoint", [black_hole, refusing], ids=["black-hole", "refusing"])
def test_a_dead_otlp_endpoint_costs_requests_nothing_and_its_queue_stays_bounded(endpoint, monkeypatch):
    with endpoint() as url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url + "/v1/traces")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
        monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
        monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32")
        provider = build_tracer_provider("svc", "1", Settings(otlp_enabled=True))
        (processor,) = provider._active_span_processor._span_processors
        queue = processor._batch_processor._queue
        app = sample_app()
        queued: list[int] = []
        before = DROPPED.value("traces")
        with capture_log_lines("svc"):
            instrument(
                app, service="svc", version="1", registry=CollectorRegistry(), tracer_provider=provider
            )
            durations = serve_requests(app, REQUESTS, on_each=lambda: queued.append(len(queue)))
            provider.shutdown()
    assert max(queued) <= 64
    # All but what one blocked export took out of the queue: dropped on the full queue, or with the batch.
    assert DROPPED.value("traces") - before >= REQUESTS - 64 - 32
    assert max(durations) < SLOW_SECONDS


def test_a_trace_dir_on_a_full_disk_drops_and_counts_whole_batches_then_recovers(full_disk):
    path = full_disk / "traces" / "svc.jsonl"
    provider = build_tracer_provider("svc", "1", Settings(trace_dir=str(path.parent)))
    app = sample_app()
    before = DROPPED.value("traces")
    with capture_log_lines("svc") as logs:
        instrument(app, service="svc", version="1", registry=CollectorRegistry(), tracer_provider=provider)
        durations = serve_requests(app, 200)
        provider.force_flush()
        assert DROPPED.value("traces") - before == 200
        (full_disk / "fill").unlink()
        serve_requests(app, 3)
        provider.shutdown()
    assert max(durations) < SLOW_SECONDS
    assert len(read_spans(path)) == 3
    warnings = [r["event"] for r in logs.records() if "span file" in r["event"]]
    assert len(warnings) == 2 and "not writable" in warnings[0] and "writable again" in warnings[1]


def test_a_batch_that_half_fits_leaves_no_half_line(full_disk):
    """A short write is cut back off: the next batch that fits starts a line of its own."""
    (full_disk / "fill").unlink()
    path = full_disk / "svc.jsonl"
    exporter = SpanFile(path)
    provider = build_tracer_provider("svc", "1", Settings())
    tracer = provider.get_tracer("test")
    spans = []
    for index in range(200):
        span = tracer.start_span(f"span {index}", attributes={"padding": "x" * 200})
        span.end()
        spans.append(span)
    fill(full_disk)
    os.truncate(full_disk / "fill", (full_disk / "fill").stat().st_size - 4096)  # one page free
    assert exporter.export(spans).name == "FAILURE"
    assert path.stat().st_size == 0
    assert exporter.export(spans[:1]).name == "SUCCESS"
    (line,) = path.read_text().splitlines()
    assert [span.name for span in parse_line(line.encode())] == ["span 0"]
    exporter.shutdown()


def test_a_service_with_every_backend_down_answers_as_usual(full_disk, tmp_path):
    """A real process: stdout a pipe no one reads, spans to a full disk and to a black hole."""
    with black_hole() as otlp, stuck_pipe() as stdout:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIRSCOPE_"))}
        env |= {
            "AIRSCOPE_TRACE_DIR": str(full_disk / "traces"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        server = AppServer(
            "airscope.bench.telemetry_outage",
            base_env=env,
            log_dir=tmp_path,
            ready_path="/health/live",
            args=["--no-access-log"],
            output=stdout,
        )
        with server, httpx.Client(base_url=server.url, timeout=10) as client:
            durations = []
            # Each access line carries the path: 3000 of these outgrow the held lines' bound.
            path = "/hello/" + "x" * 2000
            for _ in range(3000):
                began = time.perf_counter()
                response = client.get(path)
                durations.append(time.perf_counter() - began)
                assert response.status_code == 200

            def dropped_both() -> dict[str, float]:
                dropped = {
                    line.split('"')[1]: float(line.split()[-1])
                    for line in client.get("/metrics").text.splitlines()
                    if line.startswith("telemetry_dropped_total{")
                }
                assert dropped.get("logs", 0) > 0 and dropped.get("traces", 0) > 0, dropped
                return dropped

            dropped = wait_until(dropped_both, 10, message="lines and spans dropped")
    durations.sort()
    print(f"p50 {durations[1500] * 1000:.2f} ms, p99 {durations[2970] * 1000:.2f} ms, dropped {dropped}")
    assert durations[-1] < SLOW_SECONDS
