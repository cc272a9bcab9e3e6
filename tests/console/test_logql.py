"""console.logql: the dashboards' LogQL run on real log files (written by the kit's own logging,
as services write them), and everything outside the subset answered as needing Loki."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import orjson
import pytest

from airscope import checkout
from airscope.console import logql
from airscope.telemetry import get_logger
from airscope.telemetry.testing import capture_log_lines

TRACE = "0af7651916cd43dd8448eb211c80319c"
DAY = "2026-11-28"


def ms(clock: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{clock}+00:00").timestamp() * 1000)


@contextmanager
def _at(clock: str) -> Iterator[None]:
    moment = datetime.fromisoformat(f"{DAY}T{clock}+00:00").timestamp() + 0.0005
    with mock.patch("time.time", return_value=moment):
        yield


def kit(
    clock: str, event: str, *, level: str = "info", service: str = "api-gateway", **fields: object
) -> bytes:
    """A service's line as the kit writes it, at ``clock`` (HH:MM:SS.mmm) on a fixed day."""
    with capture_log_lines(service) as captured, _at(clock):
        getattr(get_logger("app"), level)(event, **fields)
    (line,) = captured.text.splitlines()
    return line.encode()


def raw(clock: str, event: str, **fields: object) -> bytes:
    """A line in the kit's shape, written directly (many lines, quickly)."""
    base = {"event": event, "level": "info", "logger": "app", "timestamp": f"{DAY}T{clock}Z"}
    return orjson.dumps(base | {"service": "api-gateway"} | fields)


def write(log_dir: Path, name: str, *lines: bytes) -> None:
    (log_dir / name).write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "log"
    directory.mkdir()
    return directory


def run(expr: str, log_dir: Path, start: str = "00:00:00", end: str = "23:59:59", **kw: object) -> dict:
    return logql.run(expr, ms(start), ms(end), kw.pop("step", 60), log_dir, **kw)  # type: ignore[arg-type]


def events(frame: dict) -> list[str]:
    assert frame["kind"] == "logs", frame
    return [line["message"] for line in frame["lines"]]


# ---------------------------------------------------------------- log queries


def test_a_stream_query_returns_the_selected_lines_oldest_first_with_their_fields(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        kit("10:00:00.000", "started"),
        kit("10:00:02.000", "upstream failed", level="error", trace="x"),
    )
    write(log_dir, "mcp-server.log", kit("10:00:01.000", "tool called", service="mcp-server"))
    frame = run('{service="api-gateway"} | json', log_dir)
    assert events(frame) == ["started", "upstream failed"]
    line = frame["lines"][1]
    assert line["service"] == "api-gateway" and line["level"] == "error" and line["program"] == "api-gateway"
    assert line["ms"] == ms("10:00:02") and line["fields"]["event"] == "upstream failed"
    assert json.loads(line["raw"])["timestamp"] == f"{DAY}T10:00:02.000Z"
    assert frame["query"] == '{service="api-gateway"} | json'
    both = run('{service=~"api-gateway|mcp-server"}', log_dir)
    assert events(both) == ["started", "tool called", "upstream failed"]


def test_level_regexes_are_anchored_and_plain_text_lines_have_no_level(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        kit("10:00:00.000", "fine"),
        kit("10:00:01.000", "bad", level="error"),
        kit("10:00:02.000", "worse", level="critical"),
        kit("10:00:03.000", "hm", level="warning"),
    )
    write(log_dir, "postgres.log", b"2026-11-28 10:00:01.500 UTC [42] LOG:  checkpoint starting: time")
    assert events(run('{service=~".+", level=~"error|critical"} | json', log_dir)) == ["bad", "worse"]
    assert events(run('{service=~".+", level=~"err"}', log_dir)) == []  # anchored, as in Loki
    assert events(run('{service=~".+", level=~".+"}', log_dir)) == ["fine", "bad", "worse", "hm"]
    plain = run('{service="postgres"}', log_dir)["lines"]
    assert [line["message"] for line in plain] == [
        "2026-11-28 10:00:01.500 UTC [42] LOG:  checkpoint starting: time"
    ]
    assert plain[0]["level"] is None and plain[0]["fields"] is None
    assert events(run('{service=~".+", level!="info"}', log_dir))[-1] == "hm"
    assert len(run('{service=~".+", level!~"error|critical"}', log_dir)["lines"]) == 3  # postgres too


def test_line_and_label_filters(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        raw("10:00:00.000", "request", logger="access", route="/api/chat", status=200),
        raw("10:00:01.000", "request", logger="access", route="/api/chat", status=504, trace_id=TRACE),
        raw("10:00:02.000", "upstream slow", logger="airscope.http", elapsed_ms=1840.2),
    )
    query = '{service="api-gateway"}'
    assert len(run(query + ' |= "/api/chat"', log_dir)["lines"]) == 2
    assert events(run(query + ' != "/api/chat"', log_dir)) == ["upstream slow"]
    assert len(run(query + ' |~ "status\\":5\\\\d\\\\d"', log_dir)["lines"]) == 1
    assert len(run(query + ' !~ `status":5\\d\\d`', log_dir)["lines"]) == 2
    traced = run(query + f' | json | trace_id="{TRACE}"', log_dir)
    assert [line["traceId"] for line in traced["lines"]] == [TRACE]
    assert len(run(query + f' | trace_id="{TRACE}"', log_dir)["lines"]) == 1  # structured metadata
    assert events(run(query + ' | json | logger="airscope.http"', log_dir)) == ["upstream slow"]
    assert len(run(query + ' | json | status=~"5.."', log_dir)["lines"]) == 1  # numbers as strings


def test_probe_access_lines_are_left_out_as_alloy_drops_them(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        raw("10:00:00.000", "request", logger="access", route="/health/ready", level="debug"),
        raw("10:00:01.000", "request", logger="access", route="/metrics", level="debug"),
        raw("10:00:02.000", "request", logger="access", route="/api/chat"),
    )
    assert len(run('{service="api-gateway"}', log_dir)["lines"]) == 1


def test_the_time_range_and_limit_keep_the_newest_lines_of_the_range(log_dir: Path) -> None:
    lines = [raw(f"10:{minute:02d}:00.000", f"m{minute}") for minute in range(60)]
    write(log_dir, "api-gateway.log", *lines)
    frame = run('{service="api-gateway"}', log_dir, start="10:10:00", end="10:19:59", limit=3)
    assert events(frame) == ["m17", "m18", "m19"]
    # a range ending long before the newest lines: read from the range itself
    frame = run('{service=~"api.+"}', log_dir, start="10:00:00", end="10:02:00", limit=100)
    assert events(frame) == ["m0", "m1", "m2"]


def test_rotated_files_and_a_line_cut_by_rotation(log_dir: Path) -> None:
    older = raw("10:00:00.000", "old") + b"\n" + raw("10:00:01.000", "cut")
    (log_dir / "api-gateway.log.1").write_bytes(older[:-20])  # supervisord cut mid-line
    (log_dir / "api-gateway.log").write_bytes(older[-20:] + b"\n" + raw("10:00:02.000", "new") + b"\n")
    assert events(run('{service="api-gateway"}', log_dir)) == ["old", "cut", "new"]
    counted = run('sum(count_over_time({service="api-gateway"}[1m]))', log_dir, "10:00:00", "10:00:00")
    assert counted["series"][0]["points"] == [[ms("10:00:00"), 1]]
    counted = run('sum(count_over_time({service="api-gateway"}[1m]))', log_dir, "10:01:00", "10:01:00")
    assert counted["series"][0]["points"] == [[ms("10:01:00"), 2]]  # "cut" whole, counted once


# ---------------------------------------------------------------- metric queries


def test_count_over_time_by_level_at_each_step_with_no_sample_where_loki_has_none(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        raw("10:00:05.000", "a"),
        raw("10:00:10.000", "b", level="error"),
        raw("10:00:15.000", "c"),  # on a step: in the range that ends there, (t-15s, t]
        raw("10:00:40.000", "d"),
    )
    write(log_dir, "mcp-server.log", raw("10:00:20.000", "e", service="mcp-server"))
    expr = 'sum by (level) (count_over_time({service=~".+", level=~".+"}[15s]))'
    frame = run(expr, log_dir, "10:00:00", "10:00:45", step=15, legend_format="{{level}}")
    assert frame["kind"] == "series" and frame["step"] == 15 and frame["exemplars"] == []
    by_name = {s["name"]: s for s in frame["series"]}
    assert list(by_name) == ["error", "info"]
    t = [ms(f"10:00:{s:02d}") for s in (0, 15, 30, 45)]
    assert by_name["info"]["points"] == [[t[0], None], [t[1], 2], [t[2], 1], [t[3], 1]]
    assert by_name["error"]["points"] == [[t[0], None], [t[1], 1], [t[2], None], [t[3], None]]
    assert by_name["info"]["labels"] == {"level": "info"}
    by_service = run(
        'sum by (service) (count_over_time({service=~".+"}[15s]))', log_dir, "10:00:00", "10:00:45", step=15
    )
    assert [s["name"] for s in by_service["series"]] == ['{service="api-gateway"}', '{service="mcp-server"}']


def test_rate_overlapping_ranges_and_unaggregated_streams(log_dir: Path) -> None:
    clocks = [f"10:00:{second:02d}.000" for second in range(1, 60)] + ["10:01:00.000"]
    write(log_dir, "api-gateway.log", *[raw(clock, "x") for clock in clocks])
    frame = run('rate({service="api-gateway"}[1m])', log_dir, "10:00:30", "10:01:00", step=10)
    (series,) = frame["series"]
    assert series["labels"] == {"service": "api-gateway", "level": "info"}
    # one line a second: 30, 40, 50, 60 lines in the minute before each step
    assert [value for _, value in series["points"]] == [0.5, 40 / 60, 50 / 60, 1.0]
    assert series["points"][0][0] == ms("10:00:30")
    total = run('sum(count_over_time({service="api-gateway"}[30s]))', log_dir, "10:01:00", "10:01:00")
    assert total["series"][0]["points"] == [[ms("10:01:00"), 30]] and total["series"][0]["labels"] == {}


def test_the_generated_dashboards_loki_targets_all_run(log_dir: Path) -> None:
    write(log_dir, "api-gateway.log", raw("10:00:00.000", "hello"), raw("10:00:01.000", "bad", level="error"))
    values = {"service": "api-gateway", "level": "info|error", "__interval": "1m"}
    seen = 0
    for path in sorted((checkout.root() / "deploy/grafana/dashboards").glob("*.json")):
        for panel in _panels(json.loads(path.read_text())["panels"]):
            for target in panel.get("targets", []):
                if (target.get("datasource") or panel.get("datasource") or {}).get("type") != "loki":
                    continue
                expr = re.sub(r"\$(\w+)", lambda m: values[m[1]], target["expr"])
                frame = run(expr, log_dir, "09:59:00", "10:01:00", legend_format=target.get("legendFormat"))
                assert frame["kind"] in ("logs", "series"), (path.name, panel["title"], frame)
                assert frame.get("lines") or frame.get("series"), (path.name, panel["title"])
                seen += 1
    assert seen >= 5


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


# ---------------------------------------------------------------- outside the subset, and errors


@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ('topk(3, sum by (level) (count_over_time({service=~".+"}[1m])))', "`topk`"),
        ('{service=~".+"} | logfmt', "`| logfmt`"),
        ('{service=~".+"} | line_format "{{.event}}"', "`| line_format`"),
        ('{service=~".+"} | json | status >= 500', "numeric label filter"),
        ('sum without (level) (count_over_time({service=~".+"}[1m]))', "sum without"),
        ('sum(rate({service=~".+"}[5m])) / 2', "`/`"),
        ('bytes_over_time({service=~".+"}[5m])', "`bytes_over_time`"),
        ('{environment="production"}', "'environment'"),
        ('{service=~".+"} |= "a" or "b"', "or"),
    ],
)
def test_outside_the_subset_is_unsupported_and_says_why(log_dir: Path, expr: str, named: str) -> None:
    frame = run(expr, log_dir)
    assert frame["kind"] == "unsupported" and frame["query"] == expr
    assert frame["message"].startswith("production only: needs Loki (") and named in frame["message"]


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ('{service=~"$service"}', "'$service'"),
        ('count_over_time({service="a"}[$__interval])', "$__interval"),
        ('{service=~".*"}', "does not match the empty string"),
        ('{service=~"(a"}', "bad regex"),
        ('{service="a"', "parse error"),
        ('count_over_time({service="a"})', "needs a range"),
        ('count_over_time({service="a"}[soon])', "not a range"),
    ],
)
def test_queries_loki_would_refuse_are_errors(log_dir: Path, expr: str, says: str) -> None:
    frame = run(expr, log_dir)
    assert frame["kind"] == "error" and says in frame["message"], frame


def test_no_log_directory_or_a_backwards_range_is_an_error(tmp_path: Path, log_dir: Path) -> None:
    assert "make up" in run('{service="a"}', tmp_path / "none")["message"]
    assert "ends before it starts" in run('{service="a"}', log_dir, "10:00:00", "09:00:00")["message"]


def test_a_range_too_large_to_count_in_time_asks_for_a_shorter_one(log_dir: Path) -> None:
    write(log_dir, "api-gateway.log", *[raw(f"10:00:{second:02d}.000", "x" * 200) for second in range(60)])
    with mock.patch.object(logql.window, "MAX_WINDOW_BYTES", 2000):
        frame = run('sum(count_over_time({service="api-gateway"}[1m]))', log_dir)
    assert frame["kind"] == "error" and "shorter range" in frame["message"]
    points = run('sum(count_over_time({service="api-gateway"}[1d]))', log_dir, step=3600)
    assert points["series"][0]["points"][-1] == [ms("23:00:00"), 60]
    assert (
        run('count_over_time({service="a"}[1s])', log_dir, "00:00:00", "23:59:59", step=1)["kind"] == "error"
    )  # 86400 points, more than Loki's 11000


def test_log_line_keys_are_stable_and_distinct(log_dir: Path) -> None:
    write(log_dir, "api-gateway.log", raw("10:00:00.000", "a"), raw("10:00:00.000", "b"))
    first = [line["key"] for line in run('{service="api-gateway"}', log_dir)["lines"]]
    again = [line["key"] for line in run('{service="api-gateway"}', log_dir)["lines"]]
    assert first == again and len(set(first)) == 2
    assert (
        datetime.fromtimestamp(run('{service="api-gateway"}', log_dir)["lines"][0]["ms"] / 1000, UTC).hour
        == 10
    )


def test_selective_counts_skip_lines_without_the_literals_yet_count_exactly(log_dir: Path) -> None:
    write(
        log_dir,
        "api-gateway.log",
        raw("10:00:01.000", "boom", level="error"),
        raw("10:00:02.000", "boom", level="info"),
        raw("10:00:03.000", "fine", level="error"),
        raw("10:00:04.000", "boom again", level="error", note='"mcp-server"'),
    )
    write(log_dir, "mcp-server.log", raw("10:00:05.000", "boom", level="critical", service="mcp-server"))
    write(log_dir, "postgres.log", b'2026-11-28 10:00:06 UTC LOG: "error" boom "api-gateway"')
    selector = '{service=~"api-gateway|mcp-server", level=~"error|critical"} |= "boom"'
    expr = f"sum by (service) (count_over_time({selector} [1m]))"
    frame = run(expr, log_dir, "10:01:00", "10:01:00")
    assert {s["name"]: s["points"][0][1] for s in frame["series"]} == {
        '{service="api-gateway"}': 2,
        '{service="mcp-server"}': 1,
    }
