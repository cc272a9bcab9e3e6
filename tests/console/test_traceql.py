"""The TraceQL subset of the dashboards' Tempo targets, run on span files: what it matches as Tempo
does, and the "unsupported" frame for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airscope.console import traceql
from tests.console.spans import chat
from tests.local.test_topology import CATALOG, SpanFiles

MS = 1_000_000
TABLE = {"queryType": "traceql", "limit": 20, "tableType": "traces", "refId": "A"}


def ms(files: SpanFiles, at: float) -> int:
    return (files.t0 + round(at * MS)) // MS


def run(files: SpanFiles, query: str, start: float = -1000, end: float = 10**6, **target: object) -> dict:
    files.write()
    return traceql.run({**TABLE, **target}, query, ms(files, start), ms(files, end), files.trace_dir)


def ids(frame: dict) -> list[str]:
    assert frame["kind"] == "traces", frame
    return [trace["traceId"] for trace in frame["traces"]]


def test_the_dashboards_queries(files: SpanFiles) -> None:
    ok = chat(files, 0)["traceId"]
    failed = chat(files, 1000, error=True)["traceId"]
    other = files.span("users", "GET /u", 2000, 5)["traceId"]
    assert ids(run(files, '{resource.service.name="gateway"}')) == [failed, ok]
    assert ids(run(files, '{resource.service.name="orders" && status=error}')) == [failed]
    # The condition holds on one span: the gateway's spans did not fail.
    assert ids(run(files, '{resource.service.name="gateway" && status=error}')) == []
    assert ids(run(files, "{}")) == [other, failed, ok]
    frame = run(files, '{resource.service.name="orders" && status=error}')
    assert frame["query"] == '{resource.service.name="orders" && status=error}'
    (summary,) = frame["traces"]
    assert summary == {
        "traceId": failed,
        "startMs": ms(files, 1000),
        "durationMs": 30.0,
        "rootService": "gateway",
        "rootName": "POST /chat",
        "spanCount": 3,
        "services": ["gateway", "orders"],
        "error": True,
    }


def test_durations_names_attributes_and_patterns(files: SpanFiles) -> None:
    quick = chat(files, 0, took=5)["traceId"]
    slow = chat(files, 1000, took=200)["traceId"]
    assert ids(run(files, "{duration > 100ms}")) == [slow]
    assert ids(run(files, "{duration >= 0.2s && kind = server}")) == [slow]
    assert ids(run(files, "{duration < 10ms && kind=server}")) == [quick]
    assert ids(run(files, '{name = "POST /c"}')) == [slow, quick]
    assert ids(run(files, '{span.http.route = "/chat"}')) == [slow, quick]
    assert ids(run(files, '{.http.route != "/chat"}')) == []  # a missing attribute meets no condition
    assert ids(run(files, '{resource.service.instance.id = "orders@2"}')) == [slow, quick]
    assert ids(run(files, '{resource.service.name =~ "gate.*|users"}')) == [slow, quick]
    assert ids(run(files, '{resource.service.name !~ "gate.*" && status != error}')) == [slow, quick]


def test_the_range_and_the_limit(files: SpanFiles) -> None:
    traces = [chat(files, second * 1000)["traceId"] for second in range(6)]
    assert ids(run(files, "{}", start=1500, end=4500)) == traces[4:1:-1]
    assert ids(run(files, "{}", limit=2)) == traces[:-3:-1]


def test_a_trace_id(files: SpanFiles) -> None:
    wanted = chat(files, 0)["traceId"]
    chat(files, 1000)
    assert ids(run(files, wanted)) == [wanted]
    assert ids(run(files, wanted.upper(), queryType="traceId")) == [wanted]
    assert ids(run(files, "f" * 32)) == []


def test_what_is_outside_the_subset_says_so(files: SpanFiles) -> None:
    chat(files, 0)
    for query, why in (
        ('{resource.service.name="gateway"} | count() > 2', "only one spanset"),
        ('{status=error} && {resource.service.name="gateway"}', "only one spanset"),
        ("{status=error || duration > 1s}", "joined by && only"),
        ("{traceDuration > 1s}", "not a field here"),
        ("{status = broken}", "status is = or !="),
        ("{duration > 100}", "duration compares with a duration"),
        ('{event.name = "x"}', "only resource., span. and . attributes"),
        ("{span.x = }", "incomplete condition"),
        ("select(span.x)", "one spanset in braces"),
    ):
        frame = run(files, query)
        assert frame["kind"] == "unsupported", query
        assert frame["message"].startswith("production only: needs Tempo (")
        assert why in frame["message"], (query, frame["message"])
        assert frame["query"] == query
    assert run(files, "{}", tableType="spans")["kind"] == "unsupported"
    assert "queryType 'nativeSearch'" in run(files, "", queryType="nativeSearch")["message"]


def test_the_service_map(files: SpanFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(CATALOG))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(path))
    chat(files, 0)
    chat(files, 1000, error=True)
    frame = run(files, "", start=0, end=10_000, queryType="serviceMap")
    assert frame["kind"] == "graph"
    edge = next(e for e in frame["edges"] if (e["source"], e["target"]) == ("gateway", "orders"))
    assert (edge["rate"], edge["declared"], edge["seen"]) == (0.2, True, True)
    nodes = {node["id"]: node for node in frame["nodes"]}
    assert nodes["orders"]["errorRatio"] == 0.5


def test_a_hundred_span_trace_is_found_whole_among_many(files: SpanFiles) -> None:
    """(How fast: `airscope bench console`; timing goals live in benchmarks.)"""
    root = files.span("gateway", "POST /big", 0, 500)
    for index in range(99):
        files.span("orders", f"step {index}", index, 3, "internal", root)
    for second in range(1, 300):
        chat(files, second * 1000)
    files.write()
    frame = run(files, root["traceId"])
    assert frame["traces"][0]["spanCount"] == 100
