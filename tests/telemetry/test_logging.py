import asyncio
import io
import json
import logging
import re

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

from airscope.telemetry import DROPPED, configure_logging, get_logger, redact, redact_text, reset_logging
from airscope.telemetry.testing import capture_log_lines

pytestmark = pytest.mark.anyio

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_every_line_is_json_with_the_fields_and_the_span_ids(kit):
    async with kit.client() as client:
        response = await client.get("/items/7", headers={"X-Request-Id": "req-1"})
    records = kit.logs.records()
    (server_span,) = kit.spans.get_finished_spans()
    trace_id = format(server_span.context.trace_id, "032x")
    span_id = format(server_span.context.span_id, "016x")
    app_line = next(r for r in records if r["event"] == "item fetched")
    access = next(r for r in records if r["event"] == "request")
    for record in (app_line, access):
        assert TIMESTAMP.match(record["timestamp"])
        assert record["service"] == "sample"
        assert record["trace_id"] == trace_id == response.headers["x-trace-id"]
        assert record["span_id"] == span_id
        assert record["trace_sampled"] is True
        assert record["request_id"] == "req-1"
    assert app_line["logger"] == "sample" and app_line["level"] == "info" and app_line["item_id"] == 7
    assert access["logger"] == "access"
    assert access | {"duration_ms": 0} == access | {
        "method": "GET",
        "route": "/items/{item_id}",
        "path": "/items/7",
        "status": 200,
        "duration_ms": 0,
    }
    assert len([r for r in records if r["event"] == "request"]) == 1


@pytest.mark.parametrize(
    ("sampler", "traceparent"),
    [
        # Production's sampler: a new trace whose id falls outside the kept ratio.
        (ParentBased(TraceIdRatioBased(0.0)), None),
        # A caller that did not keep its trace: parent-based sampling follows it.
        (ParentBased(ALWAYS_ON), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
    ],
)
async def test_lines_of_a_trace_not_kept_carry_its_id_and_say_it_was_not_sampled(
    make_kit, sampler, traceparent
):
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    kit = make_kit(tracer_provider=provider)
    headers = {"traceparent": traceparent} if traceparent else {}
    async with kit.client() as client:
        response = await client.get("/items/7", headers=headers)
    records = [r for r in kit.logs.records() if r["event"] in ("item fetched", "request")]
    assert len(records) == 2
    for record in records:
        # The id stays for searching (it is the response's X-Trace-Id); the flag withholds the link.
        assert record["trace_id"] == response.headers["x-trace-id"]
        assert record["trace_sampled"] is False
    if traceparent:
        assert response.headers["x-trace-id"] == "0af7651916cd43dd8448eb211c80319c"


def test_a_line_outside_any_span_has_no_trace_fields():
    stream = io.StringIO()
    configure_logging("sample", stream=stream)
    try:
        get_logger("sample").info("outside")
    finally:
        reset_logging()
    record = json.loads(stream.getvalue())
    assert not {"trace_id", "span_id", "trace_sampled"} & set(record)


async def test_probe_requests_log_at_debug_only(make_kit):
    kit = make_kit()
    async with kit.client() as client:
        await client.get("/metrics")
        await client.get("/health/live")
    probes = [r for r in kit.logs.records() if r["event"] == "request"]
    assert {r["level"] for r in probes} == {"debug"}
    assert kit.spans.get_finished_spans() == ()


def test_standard_library_logs_share_the_renderer():
    with capture_log_lines("svc") as logs:
        logging.getLogger("uvicorn.error").warning("port %d busy", 7000)
        logging.getLogger("somelib").info("token=abc123 refreshed")
    first, second = logs.records()
    assert first["event"] == "port 7000 busy" and first["logger"] == "uvicorn.error"
    assert first["level"] == "warning" and first["service"] == "svc" and TIMESTAMP.match(first["timestamp"])
    assert "abc123" not in logs.text and second["event"] == "token=[REDACTED] refreshed"


def test_log_level_filters():
    with capture_log_lines("svc", level="warning") as logs:
        log = get_logger("x")
        log.info("hidden")
        log.warning("shown")
        logging.getLogger("lib").info("hidden too")
    assert [r["event"] for r in logs.records()] == ["shown"]


def test_a_failing_stdout_drops_and_counts_the_line_instead_of_raising():
    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError(28, "No space left on device")

    before = DROPPED.value("logs")
    configure_logging("svc", stream=FullDisk())
    try:
        get_logger("x").info("lost")
        logging.getLogger("lib").error("lost too")
    finally:
        reset_logging()
    assert DROPPED.value("logs") == before + 2


async def test_planted_secrets_never_reach_logs_or_spans():
    """Secrets in headers, query strings, log arguments, exception texts and outgoing URLs."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry

    from airscope.telemetry import instrument
    from airscope.telemetry._tracing import SafeExporter

    secrets = [
        "s3cr3t-header",
        "s3cr3t-query",
        "s3cr3t-arg",
        "s3cr3t-text",
        "s3cr3t-exc",
        "s3cr3t-out",
        "s3cr3t-pw",
    ]
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SafeExporter(exported)))

    upstream = FastAPI()

    @upstream.get("/echo")
    async def echo() -> dict:
        return {}

    app = FastAPI()
    log = get_logger("handler")

    @app.get("/login")
    async def login(api_key: str = "") -> dict:
        log.info("login", password="s3cr3t-arg", note="Authorization: Bearer s3cr3t-text")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=upstream), base_url="http://up"
        ) as client:
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
            await client.get("/echo", params={"token": "s3cr3t-out"})
        return {}

    @app.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("could not connect to postgresql://app:s3cr3t-pw@db/app, secret=s3cr3t-exc")

    with capture_log_lines("svc") as logs:
        instrumentation = instrument(
            app, service="svc", version="1", registry=CollectorRegistry(), tracer_provider=provider
        )
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client:
                headers = {
                    "Authorization": "Bearer s3cr3t-header",
                    "Cookie": "session=s3cr3t-header",
                    "X-API-Key": "s3cr3t-header",
                }
                assert (await client.get("/login?api_key=s3cr3t-query", headers=headers)).status_code == 200
                assert (await client.get("/crash?password=s3cr3t-query", headers=headers)).status_code == 500
        finally:
            instrumentation.uninstrument()

    spans = exported.get_finished_spans()
    assert {s.kind.name for s in spans} >= {"SERVER", "CLIENT"}
    assert any(e.name == "exception" for s in spans for e in s.events)
    exported_text = json.dumps(
        [{**dict(s.attributes), "events": [dict(e.attributes) for e in s.events]} for s in spans]
    )
    assert "[REDACTED]" in exported_text
    assert "[REDACTED]" in logs.text
    for secret in secrets:
        assert secret not in logs.text, secret
        assert secret not in exported_text, secret


class RecordingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue().splitlines()))


async def test_access_lines_of_one_loop_iteration_are_flushed_together_and_errors_at_once():
    from airscope.telemetry import _logging

    stream = RecordingStream()
    configure_logging("svc", stream=stream)
    try:
        access = _logging.access_log()
        for status in (200, 201, 202):
            access.write(logging.INFO, {"path": "/x", "status": status})
        assert stream.flushed_at == []
        await asyncio.sleep(0)
        assert stream.flushed_at == [3]
        get_logger("x").error("at once")
        assert stream.flushed_at == [3, 4]
    finally:
        reset_logging()


async def test_a_failing_flush_counts_every_line_it_held():
    from airscope.telemetry._logging import LineOutput

    class BrokenPipe(io.StringIO):
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    output = LineOutput(BrokenPipe())
    before = DROPPED.value("logs")
    output.write(b'{"event": "a"}', defer=True)
    output.write(b'{"event": "b"}', defer=True)
    assert DROPPED.value("logs") == before
    await asyncio.sleep(0)
    assert DROPPED.value("logs") == before + 2


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("access_token", True),
        ("refresh-token", True),
        ("X-API-Key", True),
        ("gen_ai.usage.input_tokens", False),
        ("max_tokens", False),
        ("llm_tokens_total", False),
    ],
)
def test_a_token_is_secret_but_a_token_count_is_not(key, secret):
    assert (redact("v", key) == "[REDACTED]") is secret
    assert ("v" not in redact_text(f"{key}=v")) is secret
