"""The service map from span files: observed calls (client span -> the server span under it, else what
its attributes name), their rates, errors and p95, against the catalog's declared calls; and
`airscope check --topology`, which says the same in the terminal."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.cli import main
from airscope.local.traces import read_spans, topology
from airscope.local.traces.files import spans_after

MS = 1_000_000
_KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_ids = itertools.count(1)


def _value(value: object) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _pairs(attributes: dict) -> list[dict]:
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


class SpanFiles:
    """Spans written as the exporter writes them (one OTLP/JSON line per batch, one file per
    instance), at times given in ms from ``t0`` (ns), with readable ids."""

    def __init__(self, trace_dir: Path, t0: int) -> None:
        self.trace_dir = trace_dir
        self.t0 = t0
        self.pending: dict[tuple[str, str], list[dict]] = {}

    def span(
        self,
        service: str,
        name: str,
        at: float,
        duration: float,
        kind: str = "server",
        parent: dict | None = None,
        error: bool = False,
        instance: str | None = None,
        events: list[tuple[str, float, dict]] = (),
        **attributes: object,
    ) -> dict:
        span = {
            "traceId": parent["traceId"] if parent else f"{next(_ids):032x}",
            "spanId": f"{next(_ids):016x}",
            "name": name,
            "kind": _KIND[kind],
            "startTimeUnixNano": str(self.t0 + round(at * MS)),
            "endTimeUnixNano": str(self.t0 + round((at + duration) * MS)),
            "attributes": _pairs(attributes),
            "status": {"code": 2, "message": "it failed"} if error else {},
        }
        if parent:
            span["parentSpanId"] = parent["spanId"]
        if events:
            span["events"] = [
                {"timeUnixNano": str(self.t0 + round(ms * MS)), "name": event, "attributes": _pairs(attrs)}
                for event, ms, attrs in events
            ]
        self.pending.setdefault((service, instance or service), []).append(span)
        return span

    def write(self) -> None:
        """Each instance's pending spans as one export batch (one line) at the end of its file."""
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        for (service, instance), spans in self.pending.items():
            resource = {"service.name": service, "service.instance.id": instance}
            line = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": _pairs(resource)},
                        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
                    }
                ]
            }
            with (self.trace_dir / f"{instance}.jsonl").open("ab") as file:
                file.write(orjson.dumps(line) + b"\n")
        self.pending.clear()


CATALOG = {
    "services": {
        "gateway": {"port": 7000, "module": "json", "requires": ["redis"], "calls": ["orders", "users"]},
        "orders": {"port": 7001, "module": "json", "requires": ["postgres"], "external": ["llm"]},
        "users": {"port": 7002, "module": "json"},
        "ui": {"port": 5173, "module": "json", "calls": ["gateway"]},
        "later": {"port": 7009, "module": "airscope_no_such_package", "calls": ["orders"]},
    },
    "infrastructure": {"postgres": {"port": 5432}, "redis": {"port": 6379}},
    "external": {
        "llm": {
            "url_env": "LLM_BASE_URL",
            "key_env": "LLM_API_KEY",
            "standin": {"port": 7091, "module": "json"},
        }
    },
}


@pytest.fixture
def cat() -> catalog.Catalog:
    return catalog.parse(CATALOG)


@pytest.fixture
def files(tmp_path: Path) -> SpanFiles:
    return SpanFiles(tmp_path / "traces", (time.time_ns() // 10**9 - 600) * 10**9)


def build(files: SpanFiles, cat: catalog.Catalog, window_s: float = 60, **environ: str) -> topology.Topology:
    files.write()
    return topology.build(read_spans(files.trace_dir), cat, window_s, topology.Resolver(cat, environ))


def request(files: SpanFiles, at: float = 0, error: bool = False, took: float = 10) -> dict:
    """gateway -> orders (its server span under the gateway's client span), orders -> postgres."""
    root = files.span("gateway", "POST /orders", at, 50, "server", **{"http.request.method": "POST"})
    call = files.span(
        "gateway",
        "POST",
        at + 1,
        took + 2,
        "client",
        root,
        error=error,
        **{"http.url": "http://127.0.0.1:7001/orders"},
    )
    served = files.span(
        "orders", "POST /orders", at + 2, took, "server", call, error=error, **{"http.request.method": "POST"}
    )
    files.span("orders", "INSERT", at + 3, 1, "client", served, **{"db.system": "postgresql"})
    return root


def test_a_call_is_a_client_span_and_the_server_span_under_it(files: SpanFiles, cat: catalog.Catalog) -> None:
    for second in range(20):
        request(files, at=second * 1000, error=second == 0, took=10 + second)
    found = build(files, cat, window_s=40)
    edge = found.edges["gateway", "orders"]
    assert (edge.declared, edge.seen, edge.stats.count, edge.stats.errors) == (True, True, 20, 1)
    assert edge.stats.rate(found.window_s) == 0.5
    assert edge.stats.error_ratio == 0.05
    # Nearest rank: the 19th of 20 client durations (12 ms .. 31 ms), within its histogram bin's 4.4 %.
    assert edge.stats.p95_seconds == pytest.approx(0.030, rel=0.044)
    assert found.edges["orders", "postgres"].stats.count == 20
    assert found.nodes["postgres"].kind == "store"
    # A service's own numbers are its HTTP server spans'.
    assert found.nodes["orders"].stats.count == 20 and found.nodes["gateway"].stats.count == 20


def test_the_callee_is_the_answering_service_whatever_port_it_was_on(
    files: SpanFiles, cat: catalog.Catalog
) -> None:
    root = files.span("gateway", "GET /users", 0, 20)
    call = files.span("gateway", "GET", 1, 10, "client", root, **{"http.url": "http://127.0.0.1:7345/u"})
    files.span("users", "GET /u", 2, 5, "server", call, instance="users@2")
    found = build(files, cat)
    assert found.edges["gateway", "users"].stats.count == 1
    assert not found.undeclared


def test_a_wrapper_client_span_is_not_a_second_call(files: SpanFiles, cat: catalog.Catalog) -> None:
    """The MCP and LLM clients wrap the HTTP call in a client span of their own: one call, not two."""
    root = files.span("orders", "POST /chat", 0, 100)
    wrapper = files.span(
        "orders",
        "chat gpt-4o-mini",
        1,
        90,
        "client",
        root,
        **{"gen_ai.system": "openai", "server.address": "127.0.0.1", "server.port": 7091},
    )
    files.span(
        "orders",
        "POST",
        2,
        80,
        "client",
        wrapper,
        **{"http.url": "http://127.0.0.1:7091/v1/chat/completions"},
    )
    found = build(files, cat)
    assert found.edges["orders", "llm"].stats.count == 1
    assert found.nodes["llm"].kind == "saas"
    assert found.nodes["llm"].stats.count == 1


def test_unanswered_calls_are_named_by_their_attributes(files: SpanFiles, cat: catalog.Catalog) -> None:
    root = files.span("gateway", "GET /x", 0, 100)
    files.span("gateway", "EVALSHA", 1, 1, "client", root, **{"db.system": "redis"})
    # users wrote no span for this one: its port names it (moved by AIRSCOPE_PORT_USERS).
    files.span("gateway", "GET", 2, 5, "client", root, **{"http.url": "http://127.0.0.1:7402/me"})
    # Production: a service by its host name.
    files.span("gateway", "GET", 3, 5, "client", root, **{"http.url": "http://orders:7001/orders"})
    # The real LLM API, named by LLM_BASE_URL.
    files.span("orders", "POST", 4, 5, "client", None, **{"url.full": "https://api.example.com/v1/chat"})
    # Somewhere nobody declared.
    files.span(
        "orders", "GET", 5, 5, "client", None, **{"server.address": "elsewhere.example", "server.port": 8443}
    )
    found = build(files, cat, AIRSCOPE_PORT_USERS="7402", LLM_BASE_URL="https://api.example.com/v1")
    seen = {key for key, edge in found.edges.items() if edge.seen}
    assert seen == {
        ("gateway", "redis"),
        ("gateway", "users"),
        ("gateway", "orders"),
        ("orders", "llm"),
        ("orders", "elsewhere.example:8443"),
    }
    assert found.nodes["elsewhere.example:8443"].kind == "saas"
    assert [(e.source, e.target) for e in found.undeclared] == [("orders", "elsewhere.example:8443")]


def test_health_probes_are_no_calls(files: SpanFiles, cat: catalog.Catalog) -> None:
    root = files.span("gateway", "GET /status", 0, 10)
    for port in (7001, 7002, 5173):
        files.span("gateway", "GET", 1, 1, "client", root, **{"http.url": f"http://127.0.0.1:{port}/health"})
        files.span(
            "gateway", "GET", 1, 1, "client", root, **{"http.url": f"http://127.0.0.1:{port}/health/ready"}
        )
    found = build(files, cat)
    assert not [edge for edge in found.edges.values() if edge.seen]


def test_the_browsers_spans_are_no_service_of_the_map(files: SpanFiles, cat: catalog.Catalog) -> None:
    """The frontend's Faro spans (a click, its fetch) name a service the catalog does not have: the
    call is the ui's request, not an undeclared call of the platform."""
    click = files.span("frontend-browser", "send chat message", 0, 40, "internal")
    fetch = files.span(
        "frontend-browser", "POST", 1, 30, "client", click, **{"url.full": "http://127.0.0.1:5173/x"}
    )
    files.span("ui", "POST /api/{path:path}", 2, 20, "server", fetch, **{"http.request.method": "POST"})
    found = build(files, cat)
    assert not found.undeclared
    assert "frontend-browser" not in found.nodes
    assert found.nodes["ui"].stats.count == 1


def test_declared_calls_never_seen_are_told_apart_from_callers_that_never_ran(
    files: SpanFiles, cat: catalog.Catalog
) -> None:
    request(files)
    found = build(files, cat)
    # gateway ran and never called users, nor redis: unseen. ui wrote no span: nothing drove it.
    assert sorted((e.source, e.target) for e in found.unseen) == [
        ("gateway", "redis"),
        ("gateway", "users"),
        ("orders", "llm"),
    ]
    assert [(e.source, e.target) for e in found.idle] == [("ui", "gateway")]
    # A service whose package is not in the tree declares nothing yet.
    assert "later" not in found.nodes


def test_the_graph_frame(files: SpanFiles, cat: catalog.Catalog) -> None:
    request(files, error=True)
    frame = build(files, cat, window_s=10).frame()
    assert frame["kind"] == "graph"
    nodes = {node["id"]: node for node in frame["nodes"]}
    assert nodes["orders"] == {
        "id": "orders",
        "title": "orders",
        "kind": "service",
        "rate": 0.1,
        "errorRatio": 1.0,
        "p95Seconds": 0.01,
    }
    assert nodes["users"]["p95Seconds"] is None and nodes["users"]["rate"] == 0
    edges = {(edge["source"], edge["target"]): edge for edge in frame["edges"]}
    assert edges["gateway", "orders"] == {
        "source": "gateway",
        "target": "orders",
        "rate": 0.1,
        "errorRatio": 1.0,
        "p95Seconds": 0.012,
        "declared": True,
        "seen": True,
    }
    assert edges["gateway", "users"]["seen"] is False
    json.dumps(frame)  # what the API sends


def test_a_window_reads_only_its_spans(files: SpanFiles, cat: catalog.Catalog) -> None:
    for minute in range(5):
        request(files, at=minute * 60_000)
        files.write()  # a batch a minute, as the exporter writes them
    t0 = files.t0
    found = topology.observed(files.trace_dir, t0 + 119_000 * MS, t0 + 181_000 * MS, cat)
    assert found.edges["gateway", "orders"].stats.count == 2


def test_span_events_are_read(files: SpanFiles) -> None:
    root = files.span(
        "gateway", "GET", 0, 10, events=[("exception", 5, {"exception.type": "KeyError"}), ("retry", 2, {})]
    )
    files.write()
    (span,) = read_spans(files.trace_dir)
    assert span.span_id == root["spanId"]
    assert [(e["name"], e["time_ns"] - files.t0, e["attributes"]) for e in span.events()] == [
        ("retry", 2 * MS, {}),
        ("exception", 5 * MS, {"exception.type": "KeyError"}),
    ]


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    path = tmp_path / "catalog.yaml"
    path.write_text(json.dumps(CATALOG))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(path))
    # The e2e platform, when it runs in the same session, has moved every port (the stand-ins' too).
    for variable in [v for v in os.environ if v.startswith("AIRSCOPE_PORT_")]:
        monkeypatch.delenv(variable)
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    return tmp_path


def test_check_topology_lists_the_differences_and_fails(local: Path, files: SpanFiles) -> None:
    request(files)
    root = files.span("orders", "GET /x", 0, 10)
    files.span("orders", "GET", 1, 5, "client", root, **{"http.url": "http://127.0.0.1:7002/users"})
    files.write()
    result = CliRunner().invoke(main, ["check", "--topology", "--since", "1h"])
    assert result.exit_code == 1, result.output
    assert (
        "FAILED observed calls are declared in the catalog\n       - orders -> users (service): 1 calls"
        in result.output
    )
    assert "FAILED declared calls are seen" in result.output
    assert "       - gateway -> users (service)\n" in result.output
    assert "ui -> gateway (service)" in result.output.split("note")[1]
    assert "airscope/catalog/catalog.yaml" in result.output

    as_json = CliRunner().invoke(main, ["check", "--topology", "--since", "1h", "--json"])
    report = json.loads(as_json.output[: as_json.output.rindex("}") + 1])
    assert report["undeclared"] == ["orders -> users (service)"]
    assert report["not_exercised"] == ["ui -> gateway (service)"]
    assert report["graph"]["kind"] == "graph"


def test_check_topology_passes_when_the_spans_match_the_catalog(local: Path, files: SpanFiles) -> None:
    root = request(files)
    files.span("gateway", "GET", 20, 5, "client", root, **{"db.system": "redis"})
    users = files.span("gateway", "GET", 21, 5, "client", root, **{"http.url": "http://127.0.0.1:7002/u"})
    files.span("users", "GET /u", 22, 2, "server", users)
    llm = files.span("orders", "POST", 30, 5, "client", None, **{"http.url": "http://127.0.0.1:7091/v1/chat"})
    assert llm
    files.write()
    result = CliRunner().invoke(main, ["check", "--topology", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert "ok     observed calls are declared in the catalog" in result.output
    assert "ok     declared calls are seen" in result.output


def test_check_topology_without_traffic_says_how_to_make_it(local: Path, files: SpanFiles) -> None:
    request(files)
    files.write()
    result = CliRunner().invoke(main, ["check", "--topology", "--since", "1m"])
    assert result.exit_code == 1
    assert "no spans ended since" in result.output and "`airscope load`" in result.output
    bad = CliRunner().invoke(main, ["check", "--topology", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since" in bad.output
    both = CliRunner().invoke(main, ["check", "--topology", "--live"])
    assert both.exit_code == 2 and "pick one" in both.output


def _observed(files: SpanFiles, cat: catalog.Catalog, seconds: float = 3600) -> topology.Topology:
    files.write()
    now = time.time_ns()
    return topology.observed(files.trace_dir, now - round(seconds * 1e9), now, cat)


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many spans each file read returned: what a refresh parsed."""
    counts: list[int] = []

    def counting(*args: object) -> tuple:
        spans, position = spans_after(*args)  # type: ignore[arg-type]
        counts.append(len(spans))
        return spans, position

    monkeypatch.setattr(topology, "spans_after", counting)
    return counts


def test_a_refresh_reads_only_the_spans_appended_since(
    files: SpanFiles, cat: catalog.Catalog, read: list[int]
) -> None:
    for second in range(3):
        request(files, at=second * 1000)
    assert _observed(files, cat).edges["gateway", "orders"].stats.count == 3
    assert sum(read) == 12
    read.clear()
    assert _observed(files, cat).edges["gateway", "orders"].stats.count == 3
    assert sum(read) == 0  # nothing new: nothing parsed
    request(files, at=5000, error=True)
    found = _observed(files, cat)
    assert sum(read) == 4
    edge = found.edges["gateway", "orders"]
    assert (edge.stats.count, edge.stats.errors) == (4, 1)
    assert found.nodes["orders"].spans == 8  # its server span and its query, four times


def test_a_file_is_read_a_bounded_slice_at_a_time_and_whole(files: SpanFiles) -> None:
    """An hour's file is never held at once: each read stops after about max_bytes of whole lines, and
    reading on from each position sees every span once (a line longer than max_bytes whole)."""
    for second in range(20):
        request(files, at=second * 1000)
    files.write()
    path = max(files.trace_dir.glob("*.jsonl"), key=lambda p: p.stat().st_size)
    whole, _ = spans_after(path, None, 0, max_bytes=2**30)
    seen, position, reads = [], None, 0
    while True:
        spans, after = spans_after(path, position, 0, max_bytes=100)  # shorter than any line
        seen += spans
        reads += 1
        if position is not None and after.offset == position.offset:
            break
        position = after
    assert [s.span_id for s in seen] == [s.span_id for s in whole] and len(whole) >= 20
    assert reads > len(path.read_bytes().splitlines()) / 2  # one line or so per read, not the file


def test_a_truncated_or_replaced_file_is_read_again(
    tmp_path: Path, files: SpanFiles, cat: catalog.Catalog
) -> None:
    request(files)
    assert _observed(files, cat).edges["gateway", "orders"].stats.count == 1
    # Truncated: each file starts again, shorter than where the last read stopped.
    for path in files.trace_dir.glob("*.jsonl"):
        path.write_bytes(b"")
    request(files, at=1000)
    # The spans read before stay counted (they happened); the new file's are added.
    assert _observed(files, cat).edges["gateway", "orders"].stats.count == 2
    # Replaced by another file, longer than where the last read stopped: its identity tells.
    other = SpanFiles(tmp_path / "other", files.t0)
    request(other, at=2000)
    other.write()
    request(other, at=3000)
    other.write()
    for path in other.trace_dir.glob("*.jsonl"):
        os.replace(path, files.trace_dir / path.name)
    assert _observed(files, cat).edges["gateway", "orders"].stats.count == 4


def test_a_call_waits_for_the_span_that_answers_it(tmp_path: Path, cat: catalog.Catalog) -> None:
    """The server span may be written after the client span (another process, another batch): the
    call is counted once, to the service that answered, even on a port the catalog does not name."""
    files = SpanFiles(tmp_path / "traces", time.time_ns() - 2000 * MS)
    root = files.span("gateway", "GET /users", 0, 20)
    call = files.span("gateway", "GET", 1, 10, "client", root, **{"http.url": "http://127.0.0.1:7345/u"})
    early = _observed(files, cat)
    # Not answered yet: named by its address for now, and not settled.
    assert early.edges["gateway", "127.0.0.1:7345"].stats.count == 1
    files.span("users", "GET /u", 2, 5, "server", call, instance="users@2")
    found = _observed(files, cat)
    assert found.edges["gateway", "users"].stats.count == 1
    assert ("gateway", "127.0.0.1:7345") not in found.edges


def test_a_longer_window_than_the_buckets_hold_reads_the_files_again(
    files: SpanFiles, cat: catalog.Catalog
) -> None:
    request(files)  # ten minutes ago
    assert not _observed(files, cat, seconds=60).edges["gateway", "orders"].seen
    assert _observed(files, cat, seconds=3600).edges["gateway", "orders"].stats.count == 1
    # The buckets now keep the hour: a shorter window is answered from them.
    assert not _observed(files, cat, seconds=60).edges["gateway", "orders"].seen


def test_buckets_widen_with_age_and_go_after_the_longest_window(cat: catalog.Catalog) -> None:
    folding = topology._Folding(cat, topology.Resolver(cat, {}), since_ns=0)
    hour, minute = 3600 * 10**9, 60 * 10**9
    now = 100 * 24 * hour
    for age in (30 * minute, 90 * minute, 91 * minute, 30 * hour, 31 * hour, 8 * 24 * hour):
        folding.bucket(now - age).spans["gateway"] = 1
    folding.compact(now, 7 * 24 * hour)
    widths = {bucket.width_ns for bucket in folding.buckets.values()}
    assert widths == {10 * 10**9, 300 * 10**9, hour}
    assert sum(b.spans["gateway"] for b in folding.buckets.values()) == 5  # the week-old one is gone
    assert len(folding.buckets) <= 5
    whole = folding.topology(now - 7 * 24 * hour, now, 7 * 24 * 3600)
    assert whole.nodes["gateway"].spans == 5
    folding.compact(now, 2 * hour)
    assert sum(b.spans["gateway"] for b in folding.buckets.values()) == 3


def test_a_follower_keeps_the_map_folded(local: Path, files: SpanFiles) -> None:
    request(files)
    files.write()
    stop = topology.follow(files.trace_dir, every_s=0.02)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            held = topology._MAPS.get(files.trace_dir.absolute())
            if held is not None and held.positions:
                break
            time.sleep(0.02)
        request(files, at=1000)
        files.write()
        time.sleep(0.2)
        # Already read by the follower: a page's request finds nothing new to parse.
        with held.lock:
            assert held.topology(None, None, 1).edges["gateway", "orders"].stats.count == 2
    finally:
        stop.set()
