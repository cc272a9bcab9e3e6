"""The AI request path end to end, on the platform `airscope up` starts (tests/e2e/conftest.py).

One chat through the gateway must answer from the stand-in's base, leave one trace across the
four services with every parent link resolved, move each service's counters by what the request
did, and leave log lines carrying its trace id.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from airscope.local.traces import Span, find_spans
from tests.e2e.conftest import API_KEY
from tests.servers import movement, scrape
from tests.support import wait_until

pytestmark = pytest.mark.infra

AI_PATH = ("api-gateway", "llm-orchestrator", "mcp-server", "airtable-gateway")
SERVER = 2  # OTLP's SpanKind


def _spans_of(trace_dir: Path, trace_id: str, services: set[str], timeout: float = 20.0) -> list[Span]:
    """The trace's spans once every service wrote some and every parent is there (each process
    exports on its own schedule; the root span ends last)."""

    def complete() -> list[Span]:
        spans = find_spans(trace_dir, trace_id)
        ids = {s.span_id for s in spans}
        assert services <= {s.service for s in spans}, f"spans of {sorted({s.service for s in spans})}"
        assert all(s.parent_span_id in ids for s in spans if s.parent_span_id), "a parent is missing"
        assert any(not s.parent_span_id for s in spans), "no root span"
        return spans

    return wait_until(complete, timeout=timeout, interval=0.2, message=f"trace {trace_id} complete")


def test_a_chat_through_the_gateway_answers_and_shows_in_metrics_traces_and_logs(platform):
    before = {name: scrape(platform[name]) for name in AI_PATH}

    response = httpx.post(
        platform["api-gateway"] + "/api/chat",
        json={"message": "List the tables in my base"},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    for table in ("Customers", "Orders", "Products"):
        assert table in body["answer"]
    # Local mode names the demo base in the system prompt: no list_bases first.
    assert [call["tool"] for call in body["tool_calls"]] == ["list_tables"]
    trace_id = response.headers["X-Trace-Id"]

    # One trace across the four services, each span's parent inside it, rooted at the gateway.
    home = platform.home
    spans = _spans_of(home / "traces", trace_id, set(AI_PATH))
    assert {s.service for s in spans} >= set(AI_PATH)
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1 and roots[0].service == "api-gateway", roots
    assert all(s.parent_span_id in by_id for s in spans if s.parent_span_id)

    def server_span(service: str, route_fragment: str) -> Span:
        return next(
            s for s in spans if s.service == service and s.kind == SERVER and route_fragment in s.name
        )

    def parent_service(span: Span) -> str:
        return by_id[span.parent_span_id].service

    assert parent_service(server_span("llm-orchestrator", "/chat")) == "api-gateway"
    assert parent_service(server_span("airtable-gateway", "/tables")) == "mcp-server"
    assert any(s.service == "mcp-server" and "list_tables" in s.name for s in spans)

    moved = {name: movement(before[name], scrape(platform[name])) for name in AI_PATH}

    assert (
        moved["api-gateway"](
            "gateway_upstream_request_duration_seconds_count",
            upstream="llm-orchestrator",
            status="200",
        )
        == 1
    )
    # Two completions: ask for the tables, then answer.
    assert moved["llm-orchestrator"]("llm_requests_total", outcome="ok") == 2
    assert moved["llm-orchestrator"]("llm_tokens_total", type="input") == body["usage"]["input_tokens"]
    assert moved["llm-orchestrator"]("llm_tokens_total", type="output") == body["usage"]["output_tokens"]
    assert moved["llm-orchestrator"]("llm_chats_total", outcome="answered") == 1
    assert moved["llm-orchestrator"]("llm_chat_input_tokens_sum") == body["usage"]["input_tokens"]
    assert moved["llm-orchestrator"]("llm_tool_calls_total", tool="list_tables", outcome="ok") == 1
    assert moved["mcp-server"]("mcp_tool_calls_total", tool="list_tables", outcome="ok") == 1
    # list_tables reads the base's tables and, for its name, the bases list.
    for operation in ("list_bases", "list_tables"):
        assert moved["airtable-gateway"]("airtable_cache_requests_total", operation=operation) == 1
        # Every cache miss went to Airtable, and nothing else did.
        assert moved["airtable-gateway"](
            "airtable_request_duration_seconds_count", operation=operation
        ) == moved["airtable-gateway"]("airtable_cache_requests_total", operation=operation, result="miss")

    # Every service on the path logged the request under its trace id.
    for name in AI_PATH:
        log = (home / "log" / f"{name}.log").read_text()
        assert f'"trace_id":"{trace_id}"' in log.replace(" ", ""), f"{name} logged nothing for the trace"
