"""The cookbooks' runnable queries run in the console against a platform that has just answered chats.

docs/cookbooks/{logql,traceql}.md put the queries the console's subset covers in plain ``logql`` /
``traceql`` blocks (tests/test_cookbooks.py holds them to it). Here each one goes through the
console's own API, ``POST /api/ds/query``, the endpoint that draws a dashboard's Loki and Tempo
panels: a console app over the e2e platform's log and span files is given a dashboard with one
panel per query (the console has no endpoint for a free LogQL or TraceQL query, only panels).
Each answer must be data, not "unsupported" or an error; the queries that describe the chats this
module sends must find them. The span attributes the TraceQL cookbook names (its production-only
queries too) must be ones the platform's spans carry.

Also runs docs/procedures/incident.md's read-only commands (``$ `` lines in ``console`` blocks).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from airscope.local.traces.files import find_spans
from tests.e2e.conftest import API_KEY, RunningPlatform
from tests.e2e.test_guide import run
from tests.support import wait_until
from tests.test_cookbooks import every_query, queries
from tests.test_incident_procedures import DOCS, console_commands

TRACE_ID = "<trace-id>"
PATIENCE = 30.0
QUESTIONS = ("List the tables in my base", "How many records are in Orders?")
# Queries that describe what the chats did, so must find it: the chat's trace id (TraceQL) or a line
# or series (LogQL).
MUST_FIND = {
    '{service=~".+"} | trace_id="<trace-id>"',
    '{service="api-gateway"} | json | logger="access" | route="/api/chat"',
    'sum by (route) (rate({service="api-gateway"} | json | logger="access" [5m]))',
    'sum by (status) (count_over_time({service="api-gateway"} | json | logger="access" [15m]))',
    '{ resource.service.name = "api-gateway" && span.http.route = "/api/chat" }',
    '{ span.gen_ai.operation.name = "chat" }',
}
# Attributes a span has only when something failed: no chat of this module fails.
ONLY_ON_FAILURE = {"span.error.type"}


@pytest.fixture(scope="module")
def chats(platform: RunningPlatform) -> list[str]:
    """The trace ids of a few chats through the gateway, once their spans are on disk."""
    trace_ids = []
    for question in QUESTIONS:
        answer = httpx.post(
            platform.api + "/chat", headers={"X-API-Key": API_KEY}, json={"message": question}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        trace_ids.append(answer.headers["x-trace-id"])
    trace_dir = platform.home / "traces"

    def complete() -> bool:
        for trace_id in trace_ids:
            services = {span.service for span in find_spans(trace_dir, trace_id)}
            assert {"api-gateway", "llm-orchestrator", "mcp-server", "airtable-gateway"} <= services, services
        return True

    wait_until(complete, timeout=PATIENCE, interval=0.5, message="the chats' traces on disk")
    return trace_ids


def cookbook_dashboard(directory: Path, trace_id: str) -> dict[int, str]:
    """A dashboard with a panel per runnable query in ``directory``; the query of each panel id."""
    panels, by_id = [], {}
    for language, source in (("logql", "loki"), ("traceql", "tempo")):
        for query in queries(language, False):
            text = query.replace(TRACE_ID, trace_id)
            key = "expr" if source == "loki" else "query"
            target = {"refId": "A", "datasource": {"type": source}, key: text}
            if source == "tempo":
                target |= {"queryType": "traceql", "limit": 100}
            panel_id = len(panels) + 1
            panels.append({"id": panel_id, "type": "table", "title": query, "targets": [target]})
            by_id[panel_id] = query
    board = {"uid": "cookbooks", "title": "cookbooks", "panels": panels}
    (directory / "cookbooks.json").write_text(json.dumps(board))
    return by_id


def found(frame: dict, query: str, trace_ids: list[str]) -> bool:
    if frame["kind"] == "logs":
        return bool(frame["lines"])
    if frame["kind"] == "series":
        return any(point[1] for series in frame["series"] for point in series["points"])
    return bool({trace["traceId"] for trace in frame["traces"]} & set(trace_ids))


@pytest.mark.infra
def test_every_runnable_cookbook_query_runs_in_the_console(platform, chats, tmp_path):
    assert {*queries("logql", False), *queries("traceql", False)} >= MUST_FIND, (
        "MUST_FIND names a query no more"
    )
    panels = cookbook_dashboard(tmp_path, chats[0])
    config = dataclasses.replace(ConsoleConfig.from_environment(), dashboards_dir=tmp_path)
    assert config.log_dir == platform.home / "log"
    with TestClient(create_app(config)) as console:

        def answers() -> bool:
            problems = []
            for panel_id, query in panels.items():
                response = console.post(
                    "/api/ds/query",
                    json={"dashboard": "cookbooks", "panelId": panel_id, "from": "now-15m", "to": "now"},
                )
                assert response.status_code == 200, response.text
                frame = response.json()["results"]["A"]
                if frame["kind"] not in ("logs", "series", "traces"):
                    problems.append(f"`{query}`: {frame['kind']}: {frame.get('message')}")
                elif query in MUST_FIND and not found(frame, query, chats):
                    problems.append(f"`{query}` found nothing of the chats: {str(frame)[:300]}")
            assert not problems, "\n".join(problems)
            return True

        # Access lines are written when the answer is sent, spans reach their files a moment later.
        wait_until(answers, timeout=PATIENCE, interval=1.0, message="the cookbook's queries answer")


@pytest.mark.infra
def test_the_traceql_cookbook_names_attributes_the_spans_carry(platform, chats):
    carried: set[str] = set()
    for path in (platform.home / "traces").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            for resource_spans in json.loads(line).get("resourceSpans", []):
                carried |= {f"resource.{a['key']}" for a in resource_spans["resource"].get("attributes", [])}
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        carried |= {f"span.{a['key']}" for a in span.get("attributes", [])}
    named = {
        name for query in every_query("traceql") for name in re.findall(r"\b(?:span|resource)\.[\w.]+", query)
    }
    assert named - ONLY_ON_FAILURE <= carried, sorted(named - ONLY_ON_FAILURE - carried)


@pytest.mark.infra
@pytest.mark.parametrize("command", console_commands(DOCS[0]))
def test_the_incident_procedures_commands_run(platform, command):
    def answers() -> bool:
        result = run(command)
        # `airscope status` exits 1 while anything is unhealthy: an earlier test's alert resolving.
        assert result.returncode == 0, (
            f"`{command}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        assert result.stdout.strip(), f"`{command}` printed nothing"
        return True

    wait_until(answers, timeout=45, interval=0.5, message=f"`{command}` as incident.md says")
