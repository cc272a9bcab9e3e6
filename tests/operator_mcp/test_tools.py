"""The operators' MCP tools through the MCP client in memory, over a fake Prometheus and Alertmanager
(httpx.MockTransport) and log and span files in a temp dir. tests/e2e/test_operator_mcp.py runs them
against the real platform over both transports."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from mcp.client import Client

from airscope.operator_mcp import limits, runbooks, server
from airscope.operator_mcp.backends import Backends
from airscope.operator_mcp.loki import LokiLogs
from airscope.operator_mcp.sources import LocalLogs, LocalTraces
from airscope.operator_mcp.tempo import TempoTraces
from tests.console.fake_prometheus import FakePrometheus, matrix, vector
from tests.local.test_topology import SpanFiles

pytestmark = pytest.mark.anyio

PROMETHEUS = "http://prometheus.test"
ALERTMANAGER = "http://alertmanager.test"
SECRETS = ("hunter2-pw", "bearer-tok-123", "key-abc-789", "dsn-pass-42")
RUNBOOKS = Path(__file__).parents[2] / "docs" / "runbooks"


class Fakes:
    """Prometheus (tests.console's fake) and Alertmanager behind one transport."""

    def __init__(self) -> None:
        self.prometheus = FakePrometheus()
        self.alertmanager: list[dict] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "alertmanager.test":
            return httpx.Response(200, json=self.alertmanager)
        return self.prometheus.transport.handle_request(request)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "log").mkdir()
    (tmp_path / "traces").mkdir()
    return tmp_path


def backends(fakes: Fakes, home: Path, **changes: object) -> Backends:
    made = Backends(
        PROMETHEUS,
        ALERTMANAGER,
        LocalLogs(home / "log"),
        LocalTraces(home / "traces"),
        runbooks.Runbooks(RUNBOOKS),
        local=False,
        transport=fakes.transport,
    )
    return Backends(**{**made.__dict__, **changes})


@pytest.fixture
async def client(fakes: Fakes, home: Path) -> AsyncIterator[Client]:
    async with Client(server.build(backends(fakes, home))) as opened:
        yield opened


async def ok(client: Client, tool: str, **arguments: object) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    # The structured content again as compact JSON after a short line, for clients that read text only.
    assert json.loads(result.content[1].text) == result.structured_content
    assert len(result.content[0].text) < 300
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: object) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


def stamp(seconds_ago: float = 0) -> str:
    return datetime.fromtimestamp(time.time() - seconds_ago, UTC).isoformat(timespec="milliseconds")


async def test_every_tool_only_reads_and_says_its_bounds(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert sorted(tools) == sorted(
        [
            "status",
            "alerts",
            "query",
            "query_range",
            "red_summary",
            "traces",
            "trace",
            "logs",
            "slo_budgets",
            "catalog",
        ]
    )
    for tool in tools.values():
        assert tool.annotations.read_only_hint and not tool.annotations.destructive_hint, tool.name
    assert "100 series" in tools["query"].description
    assert "50 series and 500 points" in tools["query_range"].description
    assert "at most 500" in tools["logs"].description
    assert "At most 50" in tools["traces"].description
    assert "1000 spans" in tools["trace"].description


async def test_a_range_too_fine_is_refused_before_prometheus_is_asked(client: Client, fakes: Fakes) -> None:
    text = await refused(client, "query_range", expr="up", start="1d", step="10s")
    assert "8641 points per series, more than the 500 allowed: a step of at least 174s" in text
    assert fakes.prometheus.requests == []
    found = await ok(client, "query_range", expr="up", start="1d")  # the finest step that fits
    assert found["step"] == 174
    assert fakes.prometheus.params("/api/v1/query_range")[0]["step"] == "174"


async def test_too_many_series_are_refused_with_how_to_narrow(client: Client, fakes: Fakes) -> None:
    fakes.prometheus.on("/api/v1/query", "many", vector(*(({"i": str(i)}, 1) for i in range(101))))
    fakes.prometheus.on("/api/v1/query", "enough", vector(*(({"i": str(i)}, 1) for i in range(100))))
    text = await refused(client, "query", expr="many")
    assert "answers 101 series, more than the 100 one call returns: aggregate it" in text
    assert len((await ok(client, "query", expr="enough"))["series"]) == 100
    many = matrix(*(({"i": str(i)}, [(1.0, 1)]) for i in range(51)))
    fakes.prometheus.on("/api/v1/query_range", "many", many)
    assert "more than the 50 one call returns" in await refused(client, "query_range", expr="many")
    assert "characters, more than the 4000" in await refused(client, "query", expr="x" * 4001)


async def test_prometheus_and_outages_answer_tool_errors_and_the_session_goes_on(
    client: Client, fakes: Fakes
) -> None:
    fakes.prometheus.refuse("sum(up", "1:7: parse error: unclosed left parenthesis")
    assert "parse error: unclosed left parenthesis" in await refused(client, "query", expr="sum(up")
    fakes.prometheus.down = True
    text = await refused(client, "slo_budgets")
    assert f"Prometheus at {PROMETHEUS}" in text and "no answer" in text
    fakes.prometheus.down = False
    assert (await ok(client, "query", expr="up"))["series"] == []


async def test_red_summary_counts_requests_exactly_and_shows_its_queries(
    client: Client, fakes: Fakes
) -> None:
    def counts(params: dict[str, str]) -> dict:
        assert "@" in params["query"] and 'service="api-gateway"' in params["query"]
        return vector(
            ({"method": "POST", "route": "/api/chat", "status": "200"}, 40),
            ({"method": "POST", "route": "/api/chat", "status": "503"}, 2),
            ({"method": "GET", "route": "/api/health", "status": "200"}, 8),
            ({"method": "GET", "route": "/api/gone", "status": "200"}, 0),
        )

    fakes.prometheus.answers = {}
    original = fakes.prometheus._handle

    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params).get("query", "")
        if query.startswith("(sum by (method, route, status)"):
            fakes.prometheus.on("/api/v1/query", query, counts)
        elif query.startswith("histogram_quantile(0.95"):
            fakes.prometheus.on("/api/v1/query", query, vector(({}, 0.25)))
        return original(request)

    fakes.prometheus.transport = httpx.MockTransport(handle)
    red = await ok(client, "red_summary", service="api-gateway", window="10m")
    assert (red["requests"], red["errors"]) == (50, 2)
    assert red["error_ratio"] == pytest.approx(0.04)
    assert red["requests_per_second"] == pytest.approx(50 / 600)
    assert red["latency_seconds"] == {"p50": None, "p95": 0.25, "p99": None}
    assert [(r["route"], r["status"], r["requests"]) for r in red["by_route"]] == [
        ("/api/chat", "200", 40),
        ("/api/health", "200", 8),
        ("/api/chat", "503", 2),
    ]
    assert "increase(http_server_request_duration_seconds_bucket" in red["queries"]["p95"]
    assert "no service 'api-gatway' in the catalog" in await refused(
        client, "red_summary", service="api-gatway"
    )


async def test_production_status_is_prometheus_and_alertmanager_alone(client: Client, fakes: Fakes) -> None:
    up = {"__name__": "up", "job": "services"}
    fakes.prometheus.on(
        "/api/v1/query",
        'up{job="services"}',
        vector(
            ({**up, "service": "api-gateway", "instance": "api-gateway"}, 1),
            ({**up, "service": "frontend", "instance": "frontend"}, 0),
        ),
    )
    fakes.alertmanager = [
        {
            "labels": {"alertname": name, "service": "frontend"},
            "annotations": {},
            "status": {"state": "active"},
            "startsAt": stamp(60),
        }
        for name in ("Watchdog", "ServiceDown")
    ]
    found = await client.call_tool("status", {})
    rows = {row["instance"]: row for row in found.structured_content["services"]}
    assert found.content[0].text == "1 of 2 instances healthy (not: frontend); firing: ServiceDown"
    assert (rows["api-gateway"]["healthy"], rows["frontend"]["healthy"]) == (True, False)
    assert rows["frontend"]["alerts"] == ["ServiceDown"] and rows["api-gateway"]["alerts"] == []
    assert [a["labels"]["alertname"] for a in found.structured_content["firing_alerts"]] == ["ServiceDown"]


def plant(home: Path) -> str:
    """Secrets where a tool reads, written past the kit (which would have redacted them)."""
    line = {
        "timestamp": stamp(60),
        "level": "error",
        "service": "api-gateway",
        "event": f"login failed password={SECRETS[0]} for planted",
        "authorization": f"Bearer {SECRETS[1]}",
        "headers": {"x-api-key": SECRETS[2]},
    }
    (home / "log" / "api-gateway.log").write_text(
        json.dumps(line) + "\n" + f"{stamp(50)} planted plain postgresql://app:{SECRETS[3]}@db/app\n"
    )
    files = SpanFiles(home / "traces", (time.time_ns() // 10**9 - 120) * 10**9)
    root = files.span(
        "api-gateway",
        "POST /api/auth/login",
        0,
        20,
        error=True,
        **{
            "url.full": f"http://gw/login?api_key={SECRETS[2]}",
            "http.request.header.authorization": f"Bearer {SECRETS[1]}",
        },
    )
    files.span("platform-services", "SELECT", 5, 5, kind="client", parent=root, **{"db.password": SECRETS[0]})
    files.write()
    return root["traceId"]


async def test_no_answer_holds_a_secret_planted_where_the_tools_read(
    client: Client, fakes: Fakes, home: Path
) -> None:
    trace_id = plant(home)
    fakes.prometheus.on(
        "/api/v1/alerts",
        "",
        {
            "alerts": [
                {
                    "labels": {
                        "alertname": "HighErrorRate",
                        "service": "api-gateway",
                        "severity": "critical",
                    },
                    "annotations": {
                        "summary": f"token={SECRETS[1]}",
                        "description": f"dsn postgres://a:{SECRETS[3]}@h",
                    },
                    "state": "firing",
                    "activeAt": stamp(300),
                    "value": "0.5",
                }
            ]
        },
    )
    fakes.prometheus.on("/api/v1/query", "up", vector(({"instance": "x", "password": SECRETS[0]}, 1)))
    answers = [
        await ok(client, "logs", since="10m"),
        await ok(client, "logs", grep="planted", since="10m"),
        await ok(client, "traces", since="10m"),
        await ok(client, "trace", trace_id=trace_id),
        await ok(client, "alerts"),
        await ok(client, "query", expr="up"),
    ]
    text = json.dumps(answers)
    assert [secret for secret in SECRETS if secret in text] == []
    # Each answer shows the query it ran: here the airscope command that reads the same.
    assert (
        answers[1]["query"].startswith("airscope logs --json --since ")
        and "--grep planted" in answers[1]["query"]
    )
    assert answers[2]["query"].startswith("airscope traces --json --since ")
    # Read, not missed: the planted line, span and alert are there, redacted.
    lines = answers[0]["lines"]
    assert lines[0]["authorization"] == "[REDACTED]" and "password=[REDACTED]" in lines[0]["event"]
    assert answers[3]["spans"][0]["attributes"]["url.full"].endswith("api_key=[REDACTED]")
    assert answers[4]["alerts"][0]["summary"] == "token=[REDACTED]"


async def test_logs_and_traces_are_bounded_and_say_what_was_cut(
    client: Client, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = {"timestamp": stamp(30), "level": "info", "service": "api-gateway", "event": "x" * 5000}
    (home / "log" / "api-gateway.log").write_text(json.dumps(long) + "\n")
    line = (await ok(client, "logs", service="api-gateway"))["lines"][0]
    assert (
        line["event"].startswith("x" * limits.MAX_LINE_CHARS) and "[... 3000 characters cut]" in line["event"]
    )
    assert "less than or equal to 500" in await refused(client, "logs", limit=501)

    files = SpanFiles(home / "traces", (time.time_ns() // 10**9 - 120) * 10**9)
    root = files.span("api-gateway", "GET /", 0, 50)
    for n in range(5):
        files.span("api-gateway", f"child {n}", n, 1, kind="internal", parent=root)
    files.write()
    monkeypatch.setattr(limits, "MAX_SPANS", 3)
    cut = await ok(client, "trace", trace_id=root["traceId"])
    assert cut["spans_cut"] == 3 and cut["span_count"] == 6
    assert len(cut["spans"]) == 1 and len(cut["spans"][0]["children"]) == 2
    assert "no service 'api-gatway'" in await refused(client, "traces", service="api-gatway@2")
    assert "no service 'nope'" in await refused(client, "alerts", service="nope")
    missing = await refused(client, "trace", trace_id="0" * 32)
    assert "not found" in missing
    assert "is not a trace id" in await refused(client, "trace", trace_id="nope")


async def test_production_without_loki_or_tempo_says_which_flag_to_give(fakes: Fakes, home: Path) -> None:
    async with Client(server.build(backends(fakes, home, logs=None, traces=None))) as client:
        assert "give `airscope mcp --loki URL`" in await refused(client, "logs")
        assert "give `airscope mcp --tempo URL`" in await refused(client, "traces")


def test_urls_choose_the_backends(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PROMETHEUS_URL", "ALERTMANAGER_URL", "LOKI_URL", "TEMPO_URL", "TENANT"):
        monkeypatch.delenv(f"AIRSCOPE_{name}", raising=False)
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    local = Backends.select()
    assert local.local and isinstance(local.logs, LocalLogs) and local.logs.log_dir == tmp_path / "log"
    monkeypatch.setenv("AIRSCOPE_PROMETHEUS_URL", "http://mimir:9009/prometheus/")
    with pytest.raises(Exception, match="needs both --prometheus URL and --alertmanager-url URL"):
        Backends.select()
    found = Backends.select(alertmanager="http://am:9093", loki="http://loki:3100", tenant="ops")
    assert (found.local, found.prometheus_url, found.tenant) == (False, "http://mimir:9009/prometheus", "ops")
    assert isinstance(found.logs, LokiLogs) and found.traces is None
    assert isinstance(Backends.select(alertmanager="http://am", tempo="http://tempo").traces, TempoTraces)


async def test_the_runbooks_are_resources_and_investigate_walks_one(client: Client) -> None:
    listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert set(listed) == {f"runbook://{p.stem}" for p in RUNBOOKS.glob("*.md") if p.stem != "README"}
    read = await client.read_resource("runbook://ServiceDown")
    assert read.contents[0].text == (RUNBOOKS / "ServiceDown.md").read_text()
    prompt = await client.get_prompt("investigate", {"alert": "ServiceDown", "service": "mcp-server"})
    text = prompt.messages[0].content.text
    assert "ServiceDown for mcp-server" in text
    assert runbooks.section((RUNBOOKS / "ServiceDown.md").read_text(), "First checks") in text
    with pytest.raises(Exception, match="no runbook with first checks for 'Nope'"):
        await client.get_prompt("investigate", {"alert": "Nope"})


async def test_http_wants_the_bearer_key() -> None:
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"through"})

    guarded = server.BearerKey(app, "the-key")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guarded), base_url="http://127.0.0.1") as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "the-key"},
            {"X-API-Key": "the-key"},
        ):
            answer = await http.post("/mcp", headers=headers)
            assert answer.status_code == 401 and "Authorization: Bearer" in answer.json()["message"]
        assert (await http.post("/mcp", headers={"Authorization": "Bearer the-key"})).text == "through"
