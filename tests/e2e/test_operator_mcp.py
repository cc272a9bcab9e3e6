"""`airscope mcp` against the running platform, through the real MCP client over both transports:
stdio (the command an assistant starts) and Streamable HTTP (`airscope mcp --http`, behind the API key).

What an assistant reads must be what happened: the requests a known load sent, counted exactly; a
trace as `airscope trace` shows it; a query too large refused with what to narrow; and no secret,
whatever a log line or span holds.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from airscope import catalog
from airscope.local.live_check.check import SETTLE_SECONDS, wait_for_scrape
from airscope.promapi import Prometheus
from tests.e2e.conftest import API_KEY, RunningPlatform, known_load
from tests.support import free_port, wait_until

pytestmark = pytest.mark.anyio

GATEWAY = "api-gateway"
LOAD_SECONDS = 10
LOAD_RPS = 5.0
AIRSCOPE = [sys.executable, "-c", "from airscope.cli import main; main()"]
TRANSPORTS = ("stdio", "http")


@dataclass(frozen=True)
class Loaded:
    start: float
    end: float
    sent: Counter  # (method, route, status) -> requests the load got an answer to
    trace_id: str  # a chat's, through every service it touches


@pytest.fixture(scope="module")
def loaded(platform: RunningPlatform) -> Loaded:
    """One known `airscope load` through the gateway, and a chat whose trace is on disk."""
    with Prometheus(platform["prometheus"], timeout=30) as prometheus:
        wait_for_scrape(prometheus, time.time(), [GATEWAY])
    start = time.time()
    sent, trace_id = known_load(platform, LOAD_RPS, LOAD_SECONDS)
    time.sleep(SETTLE_SECONDS)
    with Prometheus(platform["prometheus"], timeout=30) as prometheus:
        wait_for_scrape(prometheus, time.time(), [GATEWAY])
    return Loaded(start, time.time(), sent, trace_id)


@pytest.fixture(scope="module")
def http_server(platform: RunningPlatform) -> Iterator[str]:
    """`airscope mcp --http` on a free port; its endpoint."""
    port = free_port()
    process = subprocess.Popen(
        [*AIRSCOPE, "mcp", "--http", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"airscope mcp --http exited: {process.stderr.read().decode()}")
        try:
            return httpx.post(url, timeout=1).status_code == 401
        except httpx.TransportError:
            return False

    try:
        wait_until(listening, timeout=30, message="airscope mcp --http listening")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@asynccontextmanager
async def connect(transport: str, http_url: str) -> AsyncIterator[Client]:
    if transport == "stdio":
        # The SDK passes a child only a few variables by default; the platform's home and ports are needed.
        params = StdioServerParameters(
            command=AIRSCOPE[0], args=[*AIRSCOPE[1:], "mcp"], env=os.environ.copy()
        )
        async with Client(stdio_client(params)) as client:
            yield client
        return
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as http,
        Client(streamable_http_client(http_url, http_client=http)) as client,
    ):
        yield client


@pytest.fixture(params=TRANSPORTS)
async def client(request: pytest.FixtureRequest, http_server: str) -> AsyncIterator[Client]:
    async with connect(request.param, http_server) as opened:
        yield opened


async def call(client: Client, tool: str, **arguments: object) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {result.content[0].text}"
    return result.structured_content


async def refusal(client: Client, tool: str, **arguments: object) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} answered {str(result.structured_content)[:300]}"
    return result.content[0].text


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


async def test_the_gateways_request_count_is_what_the_load_sent(client: Client, loaded: Loaded) -> None:
    red = await call(
        client,
        "red_summary",
        service=GATEWAY,
        window=f"{loaded.end - loaded.start:.3f}s",
        end=_rfc3339(loaded.end),
    )
    routes = {(method, route) for method, route, _ in loaded.sent}
    counted = Counter(
        {
            (r["method"], r["route"], int(r["status"])): r["requests"]
            for r in red["by_route"]
            if (r["method"], r["route"]) in routes
        }
    )
    assert counted == loaded.sent
    assert red["requests"] >= sum(loaded.sent.values())
    assert red["latency_seconds"]["p95"] is not None and red["latency_seconds"]["p95"] > 0


def flatten(spans: list[dict]) -> list[dict]:
    return [field for span in spans for field in (span, *flatten(span["children"]))]


def span_facts(trace: dict) -> set[tuple]:
    return {
        (s["span_id"], s["parent_span_id"], s["service"], s["name"], s["status"])
        for s in flatten(trace["spans"])
    }


async def test_a_trace_is_what_airscope_trace_shows(client: Client, loaded: Loaded) -> None:
    def complete() -> dict:
        shown = subprocess.run(
            [*AIRSCOPE, "trace", loaded.trace_id, "--json"], capture_output=True, text=True, check=False
        )
        found = json.loads(shown.stdout) if shown.returncode == 0 else {"services": []}
        # Spans arrive in batches: wait until every service of the chat has written its part.
        return found if {"api-gateway", "llm-orchestrator", "mcp-server"} <= set(found["services"]) else None

    shown = wait_until(complete, timeout=30, interval=1, message="the chat's spans on disk")
    told = await call(client, "trace", trace_id=loaded.trace_id.upper())
    assert told["trace_id"] == loaded.trace_id
    assert span_facts(told) == span_facts(shown)
    assert told["span_count"] == shown["span_count"] == len(flatten(told["spans"]))

    listed = await call(client, "traces", service="mcp-server", since="10m", limit=50)
    assert loaded.trace_id in {t["trace_id"] for t in listed["traces"]}


async def test_an_oversized_query_is_refused_with_what_to_narrow(client: Client) -> None:
    points = await refusal(client, "query_range", expr="up", start="30d", step="1s")
    assert "points per series, more than the 500 allowed" in points
    series = await refusal(client, "query", expr='{__name__=~".+"}')
    assert "more than the 100 one call returns" in series and "aggregate it" in series
    bad = await refusal(client, "query", expr="sum(rate(up[5m])")
    assert "parse error" in bad
    # The session goes on after refusals.
    assert (await call(client, "query", expr='count(up{job="services"})'))["series"][0]["value"] >= 8


async def test_no_tool_writes(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == {
        "status", "alerts", "query", "query_range", "red_summary", "traces", "trace", "logs", "slo_budgets", "catalog"
    }  # fmt: skip
    assert all(t.annotations.read_only_hint and not t.annotations.destructive_hint for t in tools)
    status = await call(client, "status")
    assert {row["service"] for row in status["services"]} == set(catalog.load().services)
    checks = await client.get_prompt("investigate", {"alert": "HighLatency", "service": GATEWAY})
    assert (
        "red_summary" in checks.messages[0].content.text
        and "First checks" not in checks.messages[0].content.text
    )


# --- secrets ------------------------------------------------------------------------------------------


def planted_secrets(home: Path) -> list[str]:
    """Secrets written where the tools read: a log file and a span file of a program the kit did not
    redact (what a misbehaving library or an old build might leave), in every shape a secret takes."""
    secret = {
        name: f"{name}-{secrets.token_hex(8)}" for name in ("password", "bearer", "apikey", "dsn", "cookie")
    }
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    trace_id = secrets.token_hex(16)
    lines = [
        {
            "timestamp": stamp,
            "level": "error",
            "service": GATEWAY,
            "event": f"login failed password={secret['password']} planted",
            "trace_id": trace_id,
            "authorization": f"Bearer {secret['bearer']}",
        },
        {
            "timestamp": stamp,
            "level": "error",
            "service": GATEWAY,
            "event": f"connect postgresql://app:{secret['dsn']}@db/app planted",
            "trace_id": trace_id,
            "headers": {"cookie": secret["cookie"], "x-api-key": secret["apikey"]},
        },
    ]
    log = home / "log" / "planted.log"
    log.write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
        + f"{stamp} plain text planted api_key={secret['apikey']} Authorization: Bearer {secret['bearer']}\n"
    )
    ns = str(time.time_ns())

    def attribute(key: str, value: str) -> dict:
        return {"key": key, "value": {"stringValue": value}}

    span = {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        "name": "POST /api/auth/login",
        "kind": 2,
        "startTimeUnixNano": ns,
        "endTimeUnixNano": ns,
        "status": {"code": 2, "message": f"failed with password={secret['password']}"},
        "attributes": [
            attribute("http.request.header.authorization", f"Bearer {secret['bearer']}"),
            attribute("url.full", f"http://gw/api/x?api_key={secret['apikey']}"),
            attribute("db.connection_string", f"postgresql://app:{secret['dsn']}@db/app"),
        ],
    }
    resource = {"attributes": [attribute("service.name", GATEWAY), attribute("service.instance.id", GATEWAY)]}
    request = {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": {"name": "planted"}, "spans": [span]}]}
        ]
    }
    (home / "traces" / "planted.jsonl").write_text(json.dumps(request, separators=(",", ":")) + "\n")
    return [*secret.values(), trace_id]


async def test_no_tool_answers_a_planted_secret(platform: RunningPlatform, http_server: str) -> None:
    *hidden, trace_id = planted_secrets(platform.home)
    # A request that carries secrets of its own through the kit, too.
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(
            platform.api + f"/auth/login?api_key={hidden[2]}",
            headers={"Authorization": f"Bearer {hidden[1]}"},
            json={"email": "planted@example.com", "password": hidden[0]},
        )
    calls = [
        ("status", {}),
        ("alerts", {}),
        ("catalog", {}),
        ("slo_budgets", {}),
        ("query", {"expr": 'up{job="services"}'}),
        ("query_range", {"expr": 'sum by (service) (up{job="services"})', "start": "5m"}),
        ("red_summary", {"service": GATEWAY, "window": "5m"}),
        ("logs", {"since": "5m", "limit": 500}),
        ("logs", {"grep": "planted", "since": "5m"}),
        ("logs", {"service": GATEWAY, "trace_id": trace_id, "since": "5m"}),
        ("traces", {"service": GATEWAY, "since": "5m", "limit": 50}),
        ("traces", {"errors": True, "since": "5m", "limit": 50}),
        ("trace", {"trace_id": trace_id}),
    ]
    for transport in TRANSPORTS:
        async with connect(transport, http_server) as client:
            told = []
            for tool, arguments in calls:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, f"{tool}: {result.content[0].text}"
                told.append(
                    (tool, json.dumps(result.structured_content) + "".join(c.text for c in result.content))
                )
            found = [(tool, secret) for tool, text in told for secret in hidden if secret in text]
            assert found == [], f"over {transport}"
            # The planted lines and span were read, and answered redacted: not missed.
            lines = (await call(client, "logs", grep="planted", since="5m"))["lines"]
            assert len(lines) >= 2 and all("[REDACTED]" in json.dumps(line) for line in lines)
            planted = await call(client, "trace", trace_id=trace_id)
            assert planted["spans"][0]["attributes"]["url.full"].endswith("[REDACTED]")


async def test_http_wants_the_api_key(http_server: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": API_KEY}):
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                http_server, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )
        assert answer.status_code == 401
        assert "Authorization: Bearer" in answer.json()["message"]
