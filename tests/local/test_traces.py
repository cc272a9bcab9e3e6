"""airscope trace and traces: span files written by the SDK through the kit's exporter, read back as
trees and listings."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import orjson
import pytest
from click.testing import CliRunner
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, Status, StatusCode

from airscope.cli import main
from airscope.local.traces import parse_lines, read_spans
from airscope.telemetry import Settings
from airscope.telemetry._tracing import build_tracer_provider

MS = 1_000_000
MINUTE = 60_000  # ms


class Writers:
    """Service instances writing spans through the kit's provider and exporter into one directory, at
    times given in ms from ``t0``, configured from the environment as local mode configures them."""

    def __init__(self, trace_dir: Path, t0: int) -> None:
        self.trace_dir = trace_dir
        self.t0 = t0
        self.providers: dict[str, TracerProvider] = {}
        self.writer_of: dict[int, str] = {}  # id(span) -> its provider's key

    def start(
        self,
        service: str,
        name: str,
        at: float,
        parent: Span | None = None,
        instance: str | None = None,
        links: list[trace.Link] | None = None,
        **attrs: object,
    ) -> Span:
        key = instance or service
        if key not in self.providers:
            with mock.patch.dict(os.environ, {"AIRSCOPE_TRACE_DIR": str(self.trace_dir)}):
                os.environ.pop("AIRSCOPE_INSTANCE_ID", None)
                if instance:
                    os.environ["AIRSCOPE_INSTANCE_ID"] = instance
                self.providers[key] = build_tracer_provider(service, "1.0", Settings.from_env())
        span = (
            self.providers[key]
            .get_tracer("test")
            .start_span(
                name,
                context=trace.set_span_in_context(parent) if parent else None,
                start_time=self.t0 + round(at * MS),
                attributes=attrs,
                links=links,
            )
        )
        self.writer_of[id(span)] = key
        return span

    def end(self, span: Span, at: float, status: StatusCode | None = None, write: bool = False) -> None:
        if status is not None:
            span.set_status(Status(status, "it failed" if status is StatusCode.ERROR else None))
        span.end(end_time=self.t0 + round(at * MS))
        if write:  # one export batch, so one line, per call
            self.providers[self.writer_of[id(span)]].force_flush()

    def close(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def writers(home: Path) -> Iterator[Writers]:
    # Whole seconds, so that the start times print exactly.
    found = Writers(home / "traces", (time.time_ns() // 10**9 - 3600) * 10**9)
    yield found
    found.close()


def trace_id(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def chat_request(w: Writers, at: float = 0) -> str:
    """A chat through the gateway into a second llm-orchestrator instance that fails, and a span whose
    parent was never exported. Returns the trace id."""
    root = w.start("api-gateway", "POST /api/chat", at, **{"http.response.status_code": 502})
    call = w.start("api-gateway", "POST", at + 5, root, **{"http.status_code": 500})
    served = w.start(
        "llm-orchestrator",
        "POST /chat",
        at + 10,
        call,
        "llm-orchestrator@2",
        **{"http.response.status_code": 500},
    )
    redis = w.start(
        "llm-orchestrator", "GET", at + 20, served, "llm-orchestrator@2", **{"db.system": "redis"}
    )
    w.end(redis, at + 30, StatusCode.OK)
    # A span of this trace made by a provider that exports nothing (an unsampled or lost span).
    lost = TracerProvider().get_tracer("unexported").start_span("lost", trace.set_span_in_context(served))
    orphan = w.start("llm-orchestrator", "tool call", at + 40, lost, "llm-orchestrator@2")
    w.end(orphan, at + 60)
    w.end(served, at + 90, StatusCode.ERROR)
    w.end(call, at + 95)
    w.end(root, at + 100)
    return trace_id(root)


def run(command: str, *args: str):
    """``airscope <command> <args>``, errors mapped to messages as the real command maps them."""
    return CliRunner().invoke(main, [command, *args])


def shape(node: dict) -> tuple:
    """A span of the JSON tree as (service, name, offset, duration, status, children)."""
    children = tuple(shape(child) for child in node["children"])
    return (
        node["service"],
        node["name"],
        node["start_offset_ms"],
        node["duration_ms"],
        node["status"],
        children,
    )


# --- the kit's files ----------------------------------------------------------------------------------


def test_each_instance_writes_its_own_file_with_hex_ids(writers: Writers) -> None:
    tid = chat_request(writers)
    writers.close()
    files = sorted(path.name for path in writers.trace_dir.iterdir())
    assert files == ["api-gateway.jsonl", "llm-orchestrator@2.jsonl"]
    # OTLP/JSON writes ids as lowercase hex (not base64), compactly: what `trace` searches for.
    assert f'"traceId":"{tid}"'.encode() in (writers.trace_dir / "api-gateway.jsonl").read_bytes()


def test_read_spans_reads_a_file_or_a_directory_as_the_kit_wrote_it(writers: Writers) -> None:
    tid = chat_request(writers)
    writers.close()
    spans = read_spans(writers.trace_dir)
    assert len(spans) == 5 and {span.trace_id for span in spans} == {tid}
    gateway = read_spans(writers.trace_dir / "api-gateway.jsonl")
    root = next(span for span in gateway if span.parent_span_id is None)
    call = next(span for span in gateway if span.parent_span_id == root.span_id)
    assert (root.name, root.kind, root.service) == ("POST /api/chat", 1, "api-gateway")  # 1: internal
    assert root.attributes() == {"http.response.status_code": 502} and root.http_status() == 502
    assert call.duration_ns == 90 * MS and call.http_status() == 500
    served = next(span for span in spans if span.name == "POST /chat")
    assert served.instance == "llm-orchestrator@2" and served.status == "ERROR"
    assert (
        served.resource["service.name"] == "llm-orchestrator" and served.resource["service.version"] == "1.0"
    )
    assert read_spans(writers.trace_dir / "missing.jsonl") == []


def test_parse_lines_reads_whole_lines_only(writers: Writers) -> None:
    chat_request(writers)
    writers.close()
    data = (writers.trace_dir / "llm-orchestrator@2.jsonl").read_bytes()
    whole = len(parse_lines(data))
    assert whole == 3
    # A line still being written, and half a line a killed process left before the next one's.
    assert len(parse_lines(data + data[:40])) == whole
    assert len(parse_lines(data[:40] + data)) == whole - len(parse_lines(data.splitlines(True)[0]))


def test_the_instance_id_is_read_once_by_the_kits_settings() -> None:
    assert Settings.from_env({"AIRSCOPE_INSTANCE_ID": "api-gateway@2"}).instance_id == "api-gateway@2"
    assert Settings.from_env({"AIRSCOPE_INSTANCE_ID": ""}).instance_id is None
    assert Settings.from_env({}).instance_id is None


# --- airscope trace -----------------------------------------------------------------------------------


def test_trace_json_nests_spans_across_services_with_offsets_durations_and_status(writers: Writers) -> None:
    tid = chat_request(writers)
    writers.close()
    result = run("trace", tid, "--json")
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.output)
    assert (document["trace_id"], document["span_count"], document["duration_ms"]) == (tid, 5, 100.0)
    assert document["services"] == ["api-gateway", "llm-orchestrator"]
    assert document["error"] is True
    gateway, orphan = document["spans"]
    assert shape(gateway) == (
        "api-gateway", "POST /api/chat", 0.0, 100.0, "unset", (
            ("api-gateway", "POST", 5.0, 90.0, "unset", (
                ("llm-orchestrator", "POST /chat", 10.0, 80.0, "ERROR", (
                    ("llm-orchestrator", "GET", 20.0, 10.0, "OK", ()),
                )),
            )),
        ),
    )  # fmt: skip
    served = gateway["children"][0]["children"][0]
    assert served["instance"] == "llm-orchestrator@2" and served["status_message"] == "it failed"
    assert served["attributes"] == {"http.response.status_code": 500}
    assert served["parent_span_id"] == gateway["children"][0]["span_id"]
    assert gateway["parent_span_id"] is None and gateway["parent_missing"] is False
    # Its parent was never written: it hangs at the root, marked, still placed in time.
    assert shape(orphan) == ("llm-orchestrator", "tool call", 40.0, 20.0, "unset", ())
    assert orphan["parent_missing"] is True and orphan["parent_span_id"]


def test_trace_prints_a_waterfall_indented_by_parent(
    writers: Writers, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = chat_request(writers)
    writers.close()
    monkeypatch.setenv("COLUMNS", "150")
    result = run("trace", tid.upper())  # ids are accepted in either case
    assert result.exit_code == 0, result.output
    header, columns, *rows, legend = result.output.splitlines()
    assert (
        header.startswith(f"trace {tid}  ") and "100.0 ms  5 spans  api-gateway, llm-orchestrator" in header
    )
    assert columns.split()[:4] == ["SERVICE", "SPAN", "START", "ms"]
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert [cell[:5] for cell in cells] == [
        ["api-gateway", "POST /api/chat", "0.0", "100.0", "unset 502"],
        ["api-gateway", "POST", "5.0", "90.0", "unset 500"],  # the old HTTP convention of client spans
        ["llm-orchestrator", "POST /chat", "10.0", "80.0", "ERROR 500"],
        ["llm-orchestrator", "GET", "20.0", "10.0", "OK"],
        ["llm-orchestrator", "? tool call", "40.0", "20.0", "unset"],
    ]
    name_at = columns.index("SPAN")
    assert [len(row[name_at:]) - len(row[name_at:].lstrip()) for row in rows] == [0, 2, 4, 6, 0]
    # Bars are placed and sized on one scale: the whole trace is the whole width.
    bars = [row[len(columns.split("0 ms")[0]) :] for row in rows]
    width = bars[0].count("█")
    assert width >= 10 and bars[0] == "█" * width
    assert bars[3].index("█") == round(width * 0.2) and bars[3].count("█") == round(width * 0.3) - round(
        width * 0.2
    )
    assert legend.startswith("? its parent span is in no trace file")


def test_a_trace_that_is_not_there_exits_1_saying_where_it_looked(writers: Writers, home: Path) -> None:
    chat_request(writers)
    writers.close()
    result = run("trace", "0af7651916cd43dd8448eb211c80319c")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "trace 0af7651916cd43dd8448eb211c80319c not found in the 2 span files under" in message
    assert str(home / "traces") in message and "retry" in message


def test_a_malformed_trace_id_is_refused(home: Path) -> None:
    result = run("trace", "not-a-trace")
    assert result.exit_code == 2
    assert "'not-a-trace' is not a trace id (32 hex digits" in result.output


def test_no_trace_directory_says_how_to_get_one(home: Path) -> None:
    for command, args in (("trace", ["0af7651916cd43dd8448eb211c80319c"]), ("traces", [])):
        result = run(command, *args)
        assert result.exit_code == 1
        assert f"{home / 'traces'} does not exist; run `airscope up`" in result.output


# --- airscope traces ----------------------------------------------------------------------------------


def listed(*args: str) -> list[dict]:
    result = run("traces", "--json", *args)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def simple(w: Writers, service: str, name: str, at: float, took: float, status=None, instance=None) -> str:
    span = w.start(service, name, at, instance=instance)
    w.end(span, at + took, status)
    return trace_id(span)


@pytest.fixture
def history(writers: Writers) -> dict[str, str]:
    """Traces an hour apart to a minute apart, of several services, some failing, some slow."""
    ids = {
        "old": simple(writers, "platform-services", "POST /auth/login", 0, 30),
        "chat": chat_request(writers, 40 * MINUTE),
        "slow": simple(writers, "mcp-server", "POST /mcp", 50 * MINUTE, 1500),
        "fast": simple(writers, "api-gateway", "GET /api/health", 58 * MINUTE, 2, instance="api-gateway@2"),
    }
    writers.close()
    return ids


def test_traces_lists_newest_first_with_their_root_and_summary(
    history: dict[str, str], writers: Writers
) -> None:
    found = listed()
    assert [t["trace_id"] for t in found] == [history[k] for k in ("fast", "slow", "chat", "old")]
    chat = found[2]
    assert chat["root"] == {"service": "api-gateway", "name": "POST /api/chat", "parent_missing": False}
    assert (chat["duration_ms"], chat["span_count"], chat["error"]) == (100.0, 5, True)
    assert chat["services"] == ["api-gateway", "llm-orchestrator"]
    assert chat["start_time"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(writers.t0 / 1e9 + 2400))
    assert [t["error"] for t in found] == [False, False, True, False]

    text = run("traces").output.splitlines()
    assert text[0].split()[:3] == ["TRACE", "ID", "START"]
    assert (
        text[3].startswith(history["chat"]) and "yes" in text[3] and "api-gateway: POST /api/chat" in text[3]
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--service", "llm-orchestrator"], ["chat"]),  # any span of the trace
        (["--service", "api-gateway"], ["fast", "chat"]),
        (["--service", "api-gateway@2"], ["fast"]),  # an instance
        (["--errors"], ["chat"]),
        (["--min-duration", "500ms"], ["slow"]),
        (["--min-duration", "0.1s"], ["slow", "chat"]),
        (["--min-duration", "1"], ["slow"]),  # a bare number is seconds, as everywhere
        (["--min-duration", "0"], ["fast", "slow", "chat", "old"]),
        (["--since", "15m"], ["fast", "slow"]),
        (["--limit", "2"], ["fast", "slow"]),
        (["--service", "api-gateway", "--since", "30m", "--errors"], ["chat"]),
    ],
)
def test_traces_filters(history: dict[str, str], args: list[str], expected: list[str]) -> None:
    assert [t["trace_id"] for t in listed(*args)] == [history[name] for name in expected]


def test_traces_with_nothing_matching_says_so(history: dict[str, str]) -> None:
    result = run("traces", "--service", "frontend")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no matching trace in the 5 span files under" in result.stderr


def test_bad_durations_are_refused(home: Path) -> None:
    for option, value in (("--min-duration", "fast"), ("--since", "yesterday")):
        result = run("traces", option, value)
        assert result.exit_code == 2 and value in result.output


def test_the_newest_traces_come_whole_though_written_over_many_lines_and_files(writers: Writers) -> None:
    """Children end, so are written, before their parents, and the lines of older requests ending
    meanwhile come between: the listing reads back until it has every span of the traces it shows."""
    w = writers
    begin = 10 * MINUTE
    long_root = w.start("api-gateway", "POST /api/sagas/onboarding", begin)
    step = w.start("saga-orchestrator", "POST /sagas", begin + 1, long_root)
    for i in range(3):
        call = w.start("saga-orchestrator", f"step {i}", begin + 2 + i * 1000, step)
        w.end(call, begin + 2 + i * 1000 + 900, StatusCode.ERROR if i == 0 else None, write=True)
        # A request begun before the saga, ending during it: its own line, in another file.
        simple(w, "platform-services", "GET /report", begin - 1000 - i, 1500 + i * 1000)
        w.providers["platform-services"].force_flush()
    w.end(step, begin + 5000, write=True)
    w.end(long_root, begin + 5001, write=True)
    w.close()
    # A process killed in the middle of a line, and the next one's line appended to that half.
    saga_file = w.trace_dir / "saga-orchestrator.jsonl"
    first = saga_file.read_bytes().splitlines(keepends=True)[0]
    with saga_file.open("ab") as file:
        file.write(b'{"resourceSpans":[{"resource"' + first)
    newest = listed("--limit", "1")
    assert len(newest) == 1
    assert (newest[0]["root"]["name"], newest[0]["span_count"]) == ("POST /api/sagas/onboarding", 5)
    assert newest[0]["services"] == ["api-gateway", "saga-orchestrator"]
    assert [t["span_count"] for t in listed()] == [5, 1, 1, 1]
    # --errors and --service first learn which traces can match, then read those whole the same way.
    for args in (["--errors"], ["--service", "saga-orchestrator"], ["--service", "api-gateway", "--errors"]):
        assert [(t["root"]["name"], t["span_count"]) for t in listed(*args)] == [
            ("POST /api/sagas/onboarding", 5)
        ]


def test_a_span_linking_to_another_trace_is_counted_in_its_own(writers: Writers) -> None:
    """A link holds a traceId of its own (and no times): the line is then read in full."""
    earlier = writers.start("automation-services", "POST /files", 0)
    writers.end(earlier, 10)
    job = writers.start(
        "automation-services", "process file", 20, links=[trace.Link(earlier.get_span_context())]
    )
    step = writers.start("automation-services", "import rows", 25, job)
    writers.end(step, 35)
    writers.end(job, 40)
    later = simple(writers, "automation-services", "GET /health", 45, 1)  # after the link, in the same line
    writers.close()
    assert len((writers.trace_dir / "automation-services.jsonl").read_text().splitlines()) == 1
    found = listed()
    assert [(t["trace_id"], t["span_count"]) for t in found] == [
        (later, 1),
        (trace_id(job), 2),
        (trace_id(earlier), 1),
    ]
