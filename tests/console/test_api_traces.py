"""The console's traces API on span files in a temp dir: search, one trace as the waterfall reads
it, the service map, and clear messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from tests.console.spans import chat
from tests.local.test_topology import CATALOG, SpanFiles

MS = 1_000_000


@pytest.fixture
def client(tmp_path: Path, files: SpanFiles, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(CATALOG))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(path))
    config = ConsoleConfig(
        home=tmp_path,
        prometheus_url="http://127.0.0.1:9",
        alertmanager_url="http://127.0.0.1:9",
        notifications_file=tmp_path / "notifications.jsonl",
        log_dir=tmp_path / "log",
        trace_dir=files.trace_dir,
        dashboards_dir=tmp_path / "dashboards",
        runbooks_dir=tmp_path / "runbooks",
    )
    return TestClient(create_app(config))


def test_search_newest_first_with_the_filters_of_airscope_traces(
    client: TestClient, files: SpanFiles
) -> None:
    quick = chat(files, 0, took=5)["traceId"]
    failed = chat(files, 1000, error=True)["traceId"]
    slow = chat(files, 2000, took=300)["traceId"]
    alone = files.span("users", "GET /u", 3000, 1)["traceId"]
    files.write()

    def search(**params: object) -> list[str]:
        answer = client.get("/api/traces", params=params)
        assert answer.status_code == 200, answer.text
        return [trace["traceId"] for trace in answer.json()["traces"]]

    assert search() == [alone, slow, failed, quick]
    assert search(service="orders") == [slow, failed, quick]
    assert search(service="orders@2", errors="true") == [failed]
    assert search(minDuration="100ms") == [slow]
    assert search(limit=2) == [alone, slow]
    assert search(since="1h") == [alone, slow, failed, quick]
    assert search(since="1m") == []
    summary = client.get("/api/traces", params={"errors": "true"}).json()["traces"][0]
    assert summary["rootService"] == "gateway" and summary["spanCount"] == 3 and summary["error"] is True


def test_one_trace_as_the_waterfall_reads_it(client: TestClient, files: SpanFiles) -> None:
    root = chat(files, 0, error=True)
    files.span("gateway", "audit", 35, 1, "internal", root)
    files.write()
    answer = client.get(f"/api/traces/{root['traceId'].upper()}")
    assert answer.status_code == 200, answer.text
    trace = answer.json()
    assert trace["traceId"] == root["traceId"]
    assert trace["startMs"] == files.t0 / MS and trace["durationMs"] == 36.0
    assert trace["services"] == ["gateway", "orders"]
    spans = trace["spans"]
    assert [(s["name"], s["depth"], s["startMs"], s["kind"]) for s in spans] == [
        ("POST /chat", 0, 0.0, "server"),
        ("POST", 1, 1.0, "client"),
        ("POST /c", 2, 2.0, "server"),
        ("audit", 1, 35.0, "internal"),
    ]
    served = spans[2]
    assert served["parentSpanId"] == spans[1]["spanId"] and spans[0]["parentSpanId"] is None
    assert (served["service"], served["instance"]) == ("orders", "orders@2")
    assert (served["status"], served["statusMessage"], served["durationMs"]) == ("error", "it failed", 20.0)
    assert served["attributes"] == {"http.request.method": "POST"}
    assert served["events"] == [
        {"name": "exception", "ms": 3.0, "attributes": {"exception.type": "ValueError"}}
    ]
    assert spans[0]["status"] == "unset"


def test_a_hundred_span_trace_nested_99_deep_answers_whole(client: TestClient, files: SpanFiles) -> None:
    root = files.span("gateway", "POST /big", 0, 500)
    parent = root
    for index in range(99):  # nested 99 deep: no recursion limit is near
        parent = files.span("orders", f"step {index}", index, 300 - index, "internal", parent)
    for second in range(1, 300):
        chat(files, second * 1000)
    files.write()
    answer = client.get("/api/traces/" + root["traceId"])
    assert len(answer.json()["spans"]) == 100
    assert answer.json()["spans"][-1]["depth"] == 99


def test_the_service_map(client: TestClient, files: SpanFiles) -> None:
    chat(files, 0)
    chat(files, 1000, error=True)
    files.write()
    answer = client.get("/api/servicemap", params={"from": "now-1h", "to": "now"})
    assert answer.status_code == 200, answer.text
    frame = answer.json()
    assert frame["kind"] == "graph"
    edges = {(edge["source"], edge["target"]): edge for edge in frame["edges"]}
    assert edges["gateway", "orders"]["errorRatio"] == 0.5 and edges["gateway", "orders"]["seen"]
    assert not edges["ui", "gateway"]["seen"] and edges["ui", "gateway"]["declared"]
    assert client.get("/api/servicemap", params={"from": "now-1m"}).json()["edges"][0]["seen"] is False


def test_bad_input_gets_a_message(client: TestClient, files: SpanFiles) -> None:
    chat(files, 0)
    files.write()
    for path, params, status, words in (
        ("/api/traces/nothex", {}, 400, "is not a trace id"),
        ("/api/traces/" + "a" * 32, {}, 404, "not found"),
        ("/api/traces", {"minDuration": "soon"}, 400, "minDuration: 'soon' is not a duration"),
        ("/api/traces", {"since": "yesterday"}, 400, "since: 'yesterday' is neither an age"),
        ("/api/traces", {"limit": 0}, 400, "limit must be from 1"),
        ("/api/servicemap", {"from": "now", "to": "now-1h"}, 400, "ends before it starts"),
        ("/api/servicemap", {"from": "soon"}, 400, "is not a time"),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == status, (path, answer.text)
        assert words in answer.json()["message"], answer.json()


def test_no_span_files_yet_is_no_traces(client: TestClient) -> None:
    assert client.get("/api/traces").json() == {"traces": []}
    assert client.get("/api/traces/" + "b" * 32).status_code == 404
