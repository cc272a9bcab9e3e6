"""llm-orchestrator end to end: real stand-ins, airtable-gateway and mcp-server as subprocesses.

One stack serves the module (starting five processes per test would cost more than the tests);
the tests that need a differently configured orchestrator start their own next to it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from airscope.local.postgres import PostgresServer
from airscope.local.traces import Span, read_spans
from tests.servers import (
    Apps,
    AppServer,
    clear_faults,
    movement,
    scrape,
    set_faults,
    start_airtable_standin,
    start_llm_standin,
    value,
)
from tests.support import free_port, wait_until

pytestmark = pytest.mark.infra

MODEL = "gpt-4o-mini"
PRICE_IN, PRICE_OUT = 0.15, 0.60  # gpt-4o-mini in the built-in price table
ORCHESTRATOR = "airscope.services.llm_orchestrator"


class Stack:
    def __init__(self, apps: Apps, postgres, redis_url: str) -> None:
        self.apps = apps
        self.trace_dir = Path(apps.env["AIRSCOPE_TRACE_DIR"])
        postgres.ensure_database("llm_test", "pw")
        self.database_url = postgres.dsn("llm_test", "llm_test", "pw")
        self.redis_url = redis_url
        self.llm = start_llm_standin(apps)
        self.airtable = start_airtable_standin(apps)
        self.gateway = apps.start(
            "airscope.services.airtable_gateway",
            {"AIRTABLE_API_URL": self.airtable.url, "AIRTABLE_API_KEY": "pat-test", "REDIS_URL": redis_url},
        )
        self.mcp = apps.start(
            "airscope.services.mcp_server", {"AIRSCOPE_URL_AIRTABLE_GATEWAY": self.gateway.url}
        )
        self.orchestrator = self.start_orchestrator()

    def orchestrator_env(self, **overrides: str) -> dict[str, str]:
        return {
            "LLM_BASE_URL": self.llm.url + "/v1",
            "LLM_API_KEY": "sk-test-secret",
            "LLM_MODEL": MODEL,
            "LLM_MAX_RETRIES": "2",
            "LLM_TIMEOUT_SECONDS": "5",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "AIRSCOPE_URL_MCP_SERVER": self.mcp.url,
            **overrides,
        }

    def start_orchestrator(self, **overrides: str) -> AppServer:
        return self.apps.start(ORCHESTRATOR, self.orchestrator_env(**overrides))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_server, redis_server) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("llm-stack")
    env = {
        "AIRSCOPE_TRACE_DIR": str(tmp / "traces"),
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "AIRSCOPE_HOME": str(tmp),
    }
    with Apps(tmp, env) as apps:
        yield Stack(apps, postgres_server, redis_server.url)


@pytest.fixture
def llm_faults(stack: Stack) -> Iterator[Callable[..., None]]:
    yield functools.partial(set_faults, stack.llm)
    clear_faults(stack.llm)


def flush(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


def chat(
    server: AppServer, message: str, session_id: str | None = None, timeout: float = 30
) -> httpx.Response:
    body = {"message": message} if session_id is None else {"message": message, "session_id": session_id}
    return httpx.post(server.url + "/chat", json=body, timeout=timeout)


def test_chat_lists_the_tables_through_mcp_tools(stack: Stack) -> None:
    before = scrape(stack.orchestrator.url)
    response = chat(stack.orchestrator, "List the tables in my base")
    assert response.status_code == 200, response.text
    body = response.json()
    for table in ("Customers", "Orders", "Products"):
        assert table in body["answer"]
    assert body["tool_calls"] == [{"tool": "list_bases", "ok": True}, {"tool": "list_tables", "ok": True}]
    assert body["steps"] == 3 and body["model"] == MODEL
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    expected_cost = (usage["input_tokens"] * PRICE_IN + usage["output_tokens"] * PRICE_OUT) / 1e6
    assert body["cost_usd"] == pytest.approx(expected_cost)

    after = scrape(stack.orchestrator.url)
    moved = movement(before, after)
    assert moved("llm_tokens_total", model=MODEL, type="input") == usage["input_tokens"]
    assert moved("llm_tokens_total", model=MODEL, type="output") == usage["output_tokens"]
    assert moved("llm_cost_usd_total", model=MODEL) == pytest.approx(expected_cost)
    assert moved("llm_requests_total", model=MODEL, outcome="ok") == 3
    assert moved("llm_request_duration_seconds_count", model=MODEL) == 3
    assert moved("llm_tool_calls_total", tool="list_bases", outcome="ok") == 1
    assert moved("llm_tool_calls_total", tool="list_tables", outcome="ok") == 1
    assert value(after, "llm_active_sessions") >= 1
    assert value(after, "llm_budget_spent_usd") >= expected_cost
    assert value(after, "llm_budget_limit_usd") == 10


def test_history_is_kept_and_sent_back_to_the_model(stack: Stack) -> None:
    first = chat(stack.orchestrator, "Which bases do I have?").json()
    session_id = first["session_id"]
    assert first["tool_calls"] == [{"tool": "list_bases", "ok": True}]
    # The base id is in the session's earlier tool result: the model goes straight to list_tables.
    second = chat(stack.orchestrator, "Show me the schema of the tables", session_id).json()
    assert second["session_id"] == session_id
    assert second["tool_calls"] == [{"tool": "list_tables", "ok": True}]

    stored = httpx.get(f"{stack.orchestrator.url}/sessions/{session_id}", timeout=5).json()
    assert stored["session_id"] == session_id
    roles = [m["role"] for m in stored["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"] * 2
    assert stored["messages"][0]["content"] == "Which bases do I have?"
    assert stored["messages"][-1]["content"] == second["answer"]
    assert stored["messages"][1]["tool_calls"][0]["function"]["name"] == "list_bases"


def test_provider_errors_are_retried_then_answered_502(stack: Stack, llm_faults) -> None:
    llm_faults(error_rate=1.0)
    before = value(scrape(stack.orchestrator.url), "llm_requests_total", model=MODEL, outcome="error")
    response = chat(stack.orchestrator, "Which bases do I have?")
    assert response.status_code == 502
    assert response.json()["error"] == "llm_unavailable"
    assert "3 attempts" in response.json()["message"]
    after = value(scrape(stack.orchestrator.url), "llm_requests_total", model=MODEL, outcome="error")
    assert after - before == 3  # LLM_MAX_RETRIES=2: the first attempt and two retries


def test_provider_down_answers_a_clear_502(stack: Stack, llm_faults) -> None:
    llm_faults(down=True)
    response = chat(stack.orchestrator, "Which bases do I have?")
    assert response.status_code == 502
    assert response.json()["error"] == "llm_unavailable"
    assert "HTTP 503" in response.json()["message"]


def test_provider_unreachable_answers_a_clear_502(stack: Stack) -> None:
    dead = stack.start_orchestrator(LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    response = chat(dead, "Which bases do I have?")
    assert response.status_code == 502
    assert "unreachable" in response.json()["message"]


@pytest.fixture(scope="module")
def strict(stack: Stack) -> AppServer:
    """An orchestrator allowed one model call per chat and half a second per attempt."""
    return stack.start_orchestrator(CHAT_MAX_STEPS="1", LLM_TIMEOUT_SECONDS="0.5", LLM_MAX_RETRIES="1")


def test_slow_provider_is_504_after_retries(stack: Stack, strict: AppServer, llm_faults) -> None:
    llm_faults(extra_latency_ms=1500)
    before = value(scrape(strict.url), "llm_requests_total", model=MODEL, outcome="timeout")
    response = chat(strict, "Which bases do I have?")
    assert response.status_code == 504
    assert response.json()["error"] == "llm_timeout"
    assert value(scrape(strict.url), "llm_requests_total", model=MODEL, outcome="timeout") - before == 2


def test_model_that_never_stops_calling_tools_is_502(strict: AppServer) -> None:
    response = chat(strict, "List the tables in my base")
    assert response.status_code == 502
    assert response.json()["error"] == "llm_no_answer"
    assert "CHAT_MAX_STEPS" in response.json()["message"]


def test_spent_budget_refuses_the_next_chat(stack: Stack, redis_server) -> None:
    # A Redis database of its own: the budget is per day and shared by everything on one Redis.
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/3"
    flush(redis_url)
    tiny = stack.start_orchestrator(LLM_DAILY_BUDGET_USD="0.000001", REDIS_URL=redis_url)
    assert chat(tiny, "Which bases do I have?").status_code == 200
    refused = chat(tiny, "Which bases do I have?")
    assert refused.status_code == 429
    assert refused.json()["error"] == "budget_exhausted"
    assert "resets at 00:00 UTC" in refused.json()["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 24 * 3600


@pytest.mark.parametrize(
    "body",
    [
        {"message": ""},
        {"message": "   "},
        {"message": "x" * 8001},
        {},
        {"message": "hi", "session_id": "../../etc"},
    ],
)
def test_bad_input_is_422(stack: Stack, body: dict) -> None:
    response = httpx.post(stack.orchestrator.url + "/chat", json=body, timeout=5)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_unknown_session_is_404(stack: Stack) -> None:
    response = httpx.get(f"{stack.orchestrator.url}/sessions/{uuid.uuid4().hex}", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"] == "session_not_found"


def test_without_mcp_server_chat_answers_without_tools_and_health_warns(stack: Stack) -> None:
    alone = stack.start_orchestrator(AIRSCOPE_URL_MCP_SERVER=f"http://127.0.0.1:{free_port()}")
    health = httpx.get(alone.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "warn"
    response = chat(alone, "List the tables in my base")
    assert response.status_code == 200, response.text
    assert response.json()["tool_calls"] == []


def _chat_spans(stack: Stack, message: str) -> list[Span]:
    """The spans of one chat's trace, from every service, once its MCP requests are exported."""
    trace_id = chat(stack.orchestrator, message).headers["x-trace-id"]

    def complete() -> list[Span]:
        spans = [s for s in read_spans(stack.trace_dir) if s.trace_id == trace_id]
        names = [s.name for s in spans]
        assert "POST /chat" in names and "tools/call list_tables" in names, names
        assert names.count("POST /mcp") >= 2, names
        # Each service exports on its own schedule: the tool's read may reach the file last.
        assert any(s.service == "airtable-gateway" for s in spans), names
        return spans

    return wait_until(complete, 10, 0.2, message=f"the spans of trace {trace_id}")


def test_genai_spans_name_the_model_and_carry_no_text(stack: Stack) -> None:
    question = f"List the tables in my base {uuid.uuid4().hex}"
    spans = _chat_spans(stack, question)
    genai = [s for s in spans if s.name == f"chat {MODEL}"]
    assert len(genai) == 3
    for span in genai:
        attributes = span.attributes()
        assert span.kind == 3
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "openai"
        assert attributes["gen_ai.request.model"] == attributes["gen_ai.response.model"] == MODEL
        assert {"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"} <= attributes.keys()
    assert question not in str(spans) and "sk-test-secret" not in str(spans)


def test_mcp_requests_join_the_chat_trace(stack: Stack) -> None:
    spans = _chat_spans(stack, "List the tables in my base")
    by_id = {s.span_id: s for s in spans}
    # mcp-server's HTTP server spans (traceparent header, under the kit's httpx2 client span) and
    # its MCP spans (_meta) both hang under the orchestrator's MCP client spans.
    for name in ("POST /mcp", "tools/call list_tables"):
        span = next(s for s in spans if s.name == name and s.service == "mcp-server")
        parent = by_id[span.parent_span_id]
        assert parent.service == "llm-orchestrator"
        if not parent.name.startswith("MCP send"):
            parent = by_id[parent.parent_span_id]
        assert parent.name.startswith("MCP send")
    assert any(s.service == "airtable-gateway" for s in spans)


def test_a_chat_makes_one_span_per_hop_in_the_orchestrator(stack: Stack) -> None:
    chat(stack.orchestrator, "Which bases do I have?")  # the process's MCP session is open
    spans = [s for s in _chat_spans(stack, "List the tables in my base") if s.service == "llm-orchestrator"]
    names = sorted(s.name for s in spans)
    # A completion is its GenAI span and a tool call its MCP span, without an HTTP client span
    # under either; storing the turn is one statement and one Redis round trip.
    assert names.count(f"chat {MODEL}") == 3
    assert [n for n in names if n.startswith("MCP send")] == [
        "MCP send tools/call list_bases",
        "MCP send tools/call list_tables",
    ]
    assert "POST" not in names and "BEGIN;" not in names
    assert len(spans) <= 12, names


def test_genai_span_token_counts_survive_export(stack: Stack) -> None:
    spans = _chat_spans(stack, "List the tables in my base")
    attributes = next(s for s in spans if s.name == f"chat {MODEL}").attributes()
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0


def test_postgres_down_makes_health_fail_naming_it(stack: Stack, own_postgres: PostgresServer) -> None:
    own_postgres.start()
    own_postgres.ensure_database("llm_down", "pw")
    server = stack.start_orchestrator(DATABASE_URL=own_postgres.dsn("llm_down", "llm_down", "pw"))
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    own_postgres.stop()
    assert server.failing_checks() == {"postgres"}
    response = chat(server, "Which bases do I have?")
    assert response.status_code == 503
    assert response.json()["error"] == "postgres_unavailable"


def test_starts_while_postgres_is_down_and_serves_once_it_is_back(
    stack: Stack, own_postgres: PostgresServer
) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{own_postgres.port}/postgres"
    server = stack.apps.start(
        ORCHESTRATOR, stack.orchestrator_env(DATABASE_URL=dsn), ready_path="/health/live"
    )
    ready = httpx.get(server.url + "/health/ready", timeout=10)
    assert ready.status_code == 503 and "postgres" in ready.text
    assert chat(server, "Which bases do I have?").status_code == 503
    own_postgres.start()
    wait_until(
        lambda: httpx.get(server.url + "/health/ready", timeout=10).status_code == 200,
        15,
        message="ready once PostgreSQL is back",
    )
    response = chat(server, "Which bases do I have?")
    assert response.status_code == 200, response.text
