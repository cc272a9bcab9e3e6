"""airscope logs: filters, order across programs and rotated files, output, follow, retention.

The services' lines are written by the kit itself (airscope.telemetry's logging, configured as a
service configures it, at a chosen time and inside a chosen trace), so the command is tested against
what services really write; plain-text programs' lines (PostgreSQL, Redis...) are written by hand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import orjson
import pytest
from click.testing import CliRunner
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from airscope.cli import main
from airscope.local import LocalError, logs
from airscope.local.logs import LogStore, Query, apply_retention
from airscope.telemetry import get_logger
from airscope.telemetry.testing import capture_log_lines

TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@contextmanager
def _at(timestamp: str) -> Iterator[None]:
    """The clock the kit reads for a line's timestamp, set to ``timestamp`` (RFC 3339)."""
    moment = datetime.fromisoformat(timestamp).timestamp() + 0.0005  # a float just below .123 is .122
    with mock.patch("time.time", return_value=moment):
        yield


@contextmanager
def _in_trace(trace_id: str | None, sampled: bool = True) -> Iterator[None]:
    """Inside a span of ``trace_id``, as a request's handler runs: the kit adds trace_id, span_id and
    trace_sampled (``sampled``: whether the trace is kept)."""
    if trace_id is None:
        yield
        return
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(int(trace_id, 16), int(SPAN, 16), is_remote=False, trace_flags=flags)
    with trace.use_span(NonRecordingSpan(context)):
        yield


def entry(
    ts: str,
    event: str,
    *,
    level: str = "info",
    service: str = "api-gateway",
    trace_id: str | None = None,
    **fields: object,
) -> bytes:
    """A service's log line, written by the kit's logging: ``ts`` is a time of day on a fixed date, or a
    whole timestamp; ``trace_id`` logs it inside a span of that trace."""
    timestamp = ts if "T" in ts else f"2026-11-28T{ts}Z"
    with capture_log_lines(service) as captured, _at(timestamp), _in_trace(trace_id):
        getattr(get_logger("app"), level)(event, **fields)
    (line,) = captured.text.splitlines()
    return line.encode()


def failure(ts: str, event: str, **fields: object) -> bytes:
    """An error line with its traceback, as a service logs a caught exception."""
    with capture_log_lines("api-gateway") as captured, _at(f"2026-11-28T{ts}Z"), _in_trace(TRACE):
        try:
            raise ValueError("boom")
        except ValueError:
            get_logger("app").exception(event, **fields)
    (line,) = captured.text.splitlines()
    return line.encode()


def write(path: Path, *lines: bytes | str, mtime: float | None = None) -> Path:
    path.write_bytes(b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def events(lines: Iterable[logs.Line]) -> list[str]:
    return [line.fields["event"] if line.fields else line.raw.decode() for line in lines]


def query(log_dir: Path, **filters: object) -> list[str]:
    return events(LogStore(log_dir).query(Query(**filters)))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "log"
    directory.mkdir()
    return directory


# --- filters ------------------------------------------------------------------------------------------


def test_service_filter_matches_the_field_and_the_program_of_plain_lines(log_dir: Path) -> None:
    write(log_dir / "api-gateway.log", entry("10:00:00.000", "gw"), "uvicorn printed this")
    write(log_dir / "api-gateway@2.log", entry("10:00:01.000", "gw2"))
    write(log_dir / "mcp-server.log", entry("10:00:02.000", "mcp", service="mcp-server"))
    # A line naming api-gateway in another field is not api-gateway's.
    write(
        log_dir / "llm-orchestrator.log",
        entry("10:00:03.000", "llm", service="llm-orchestrator", to="api-gateway"),
    )
    write(log_dir / "postgres.log", "2026-11-28 10:00:04.000 UTC [7] LOG:  ready")

    assert query(log_dir, services=frozenset({"api-gateway"})) == ["gw", "uvicorn printed this", "gw2"]
    assert query(log_dir, services=frozenset({"mcp-server", "postgres"})) == [
        "mcp",
        "2026-11-28 10:00:04.000 UTC [7] LOG:  ready",
    ]


def test_level_filter_keeps_that_level_and_above_and_drops_plain_lines(log_dir: Path) -> None:
    write(
        log_dir / "api-gateway.log",
        entry("10:00:00.000", "d", level="debug"),
        entry("10:00:01.000", "i"),
        entry("10:00:02.000", "w", level="warning"),
        entry("10:00:03.000", "e", level="error"),
        entry("10:00:04.000", "c", level="critical"),
        entry("10:00:05.000", "error in the event, not the level"),
    )
    write(log_dir / "postgres.log", "2026-11-28 10:00:06.000 UTC [7] ERROR:  relation missing")

    assert query(log_dir, level="warning") == ["w", "e", "c"]
    assert query(log_dir, level="error") == ["e", "c"]
    assert query(log_dir, level="debug") == ["d", "i", "w", "e", "c", "error in the event, not the level"]


def test_trace_filter_matches_the_trace_id_field_only(log_dir: Path) -> None:
    write(
        log_dir / "api-gateway.log",
        entry("10:00:00.000", "in trace", trace_id=TRACE),
        entry("10:00:01.000", "other trace", trace_id=OTHER_TRACE),
        entry("10:00:02.000", "mentions it", path=f"/x/{TRACE}"),
        f"plain line with {TRACE}",
    )
    write(
        log_dir / "mcp-server.log", entry("10:00:03.000", "downstream", service="mcp-server", trace_id=TRACE)
    )

    assert query(log_dir, trace=TRACE) == ["in trace", "downstream"]


def test_grep_matches_a_substring_of_the_raw_line_json_or_not(log_dir: Path) -> None:
    write(
        log_dir / "api-gateway.log",
        entry("10:00:00.000", "a", path="/api/chat"),
        entry("10:00:01.000", "b", path="/api/auth/login"),
        "Traceback: /api/chat failed",
    )

    assert query(log_dir, grep="/api/chat") == ["a", "Traceback: /api/chat failed"]
    assert query(log_dir, grep='"path":"/api/auth') == ["b"]


def test_since_filters_by_timestamp_and_reads_no_older_file(log_dir: Path, monkeypatch) -> None:
    now = datetime.now(UTC)
    # Whole timestamps: a time of day alone would put "now" on another date after midnight.
    stamp = lambda ago: logs.format_timestamp(now - timedelta(minutes=ago))  # noqa: E731
    write(log_dir / "api-gateway.log", entry(stamp(20), "old"), entry(stamp(0), "new"))
    # Written recently, so only its lines tell that it is older: the current file's already did.
    recent_backup = write(log_dir / "api-gateway.log.1", entry(stamp(25), "older"))
    old_backup = write(log_dir / "api-gateway.log.2", entry(stamp(90), "oldest"), mtime=time.time() - 3600)
    read: list[Path] = []
    reader = LogStore._read
    monkeypatch.setattr(LogStore, "_read", lambda store, path: read.append(path) or reader(store, path))

    assert query(log_dir, since=logs.parse_since("10m")) == ["new"]
    assert query(log_dir, since=logs.parse_since("600")) == ["new"]  # a bare number is seconds
    assert recent_backup not in read and old_backup not in read
    assert query(log_dir, since=logs.parse_since("10m"), limit=0) == ["new"]  # oldest first: by mtime only
    assert old_backup not in read
    moment = logs.parse_since(logs.format_timestamp(now - timedelta(minutes=30)))
    assert query(log_dir, since=moment) == ["older", "old", "new"]


def test_limit_gives_the_last_lines_and_stops_reading_older_backups(log_dir: Path, monkeypatch) -> None:
    write(
        log_dir / "api-gateway.log",
        *(entry(f"10:00:{second:02d}.000", f"new {second}") for second in range(5)),
    )
    oldest = write(log_dir / "api-gateway.log.1", entry("09:00:00.000", "old"))
    write(log_dir / "mcp-server.log", entry("10:00:02.500", "mcp", service="mcp-server"))
    read: list[Path] = []
    reader = LogStore._read
    monkeypatch.setattr(LogStore, "_read", lambda store, path: read.append(path) or reader(store, path))

    assert query(log_dir, limit=3) == ["mcp", "new 3", "new 4"]
    assert oldest not in read
    assert query(log_dir, limit=0)[:2] == ["old", "new 0"]


# --- order and files ----------------------------------------------------------------------------------


def test_lines_merge_by_timestamp_across_programs_and_rotated_files(log_dir: Path) -> None:
    write(log_dir / "api-gateway.log", entry("10:00:03.000", "gw 3"), entry("10:00:05.000", "gw 5"))
    write(log_dir / "api-gateway.log.1", entry("10:00:01.000", "gw 1"))
    write(log_dir / "api-gateway.log.2", entry("10:00:00.000", "gw 0"))
    write(log_dir / "mcp-server.log", entry("10:00:02.000", "mcp 2", service="mcp-server"))
    write(log_dir / "mcp-server.log.1", entry("10:00:00.500", "mcp 0.5", service="mcp-server"))
    write(
        log_dir / "postgres.log",
        "2026-11-28 10:00:04.000 UTC [7] LOG:  checkpoint starting",
        "\tcontinuation without a time of its own",
    )
    write(log_dir / "prometheus.log", 'ts=2026-11-28T10:00:04.500Z caller=main.go level=info msg="ready"')

    assert query(log_dir) == [
        "gw 0",
        "mcp 0.5",
        "gw 1",
        "mcp 2",
        "gw 3",
        "2026-11-28 10:00:04.000 UTC [7] LOG:  checkpoint starting",
        "\tcontinuation without a time of its own",
        'ts=2026-11-28T10:00:04.500Z caller=main.go level=info msg="ready"',
        "gw 5",
    ]


@pytest.mark.parametrize("limit", [200, 0])  # newest file first, and oldest first
def test_a_line_cut_by_rotation_is_joined_again(log_dir: Path, limit: int) -> None:
    line = entry("10:00:01.000", "cut in two", level="error")
    (log_dir / "api-gateway.log.1").write_bytes(entry("10:00:00.000", "before") + b"\n" + line[:30])
    (log_dir / "api-gateway.log").write_bytes(line[30:] + b"\n" + entry("10:00:02.000", "after") + b"\n")

    assert query(log_dir, limit=limit) == ["before", "cut in two", "after"]
    assert query(log_dir, level="error", limit=limit) == ["cut in two"]


# --- the command --------------------------------------------------------------------------------------


def run(log_dir: Path, monkeypatch, *args: str):
    monkeypatch.setenv("AIRSCOPE_HOME", str(log_dir.parent))
    return CliRunner().invoke(main, ["logs", *args])


def test_json_prints_the_lines_untouched(log_dir: Path, monkeypatch) -> None:
    # Another writer's spacing and key order, and non-ASCII text: bytes as they are in the file.
    spaced = (
        '{"level": "error",  "timestamp": "2026-11-28T10:00:01.000Z", "service": "api-gateway", "event": "é"}'
    )
    compact = entry("10:00:00.000", "x", level="error").decode()
    write(log_dir / "api-gateway.log", compact, spaced)
    write(log_dir / "redis.log", "1:M 28 Nov 2026 10:00:02.000 * Ready")

    result = run(log_dir, monkeypatch, "--json", "--level", "error")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == f"{compact}\n{spaced}\n".encode()

    plain = orjson.loads(run(log_dir, monkeypatch, "--json", "--service", "redis").stdout_bytes)
    assert plain == {"timestamp": "2026-11-28T10:00:02.000Z", "program": "redis", "text": plain["text"]}


def test_human_format(log_dir: Path, monkeypatch) -> None:
    write(log_dir / "api-gateway@2.log", failure("10:00:00.123", "upstream failed", status=502))

    result = run(log_dir, monkeypatch)
    assert result.exit_code == 0, result.output
    first, *rest = result.stdout.splitlines()
    assert first.split() == [
        "10:00:00.123",
        "ERROR",
        "api-gateway@2",
        "upstream",
        "failed",
        "status=502",
        "logger=app",
        "trace_id=0af76519",
        f"span_id={SPAN}",
    ]
    # The traceback the kit rendered, on indented lines of its own.
    assert rest[:2] == ["  exception:", "    Traceback (most recent call last):"]
    assert rest[-1] == "    ValueError: boom" and all(line.startswith("    ") for line in rest[1:])


def test_human_format_says_when_a_trace_was_not_kept(log_dir: Path, monkeypatch) -> None:
    # A kept trace is the local norm and goes unsaid (test_human_format); one not kept is named, as
    # `airscope trace` will not find it.
    stamp = "2026-11-28T10:00:00.123Z"
    with capture_log_lines("api-gateway") as captured, _at(stamp), _in_trace(TRACE, sampled=False):
        get_logger("app").info("chat")
    write(log_dir / "api-gateway.log", captured.text.strip())

    result = run(log_dir, monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[-4:] == [
        "logger=app",
        "trace_id=0af76519",
        "trace_sampled=false",
        f"span_id={SPAN}",
    ]


def test_options_are_checked(log_dir: Path, monkeypatch) -> None:
    bad_trace = run(log_dir, monkeypatch, "--trace", "xyz")
    assert bad_trace.exit_code == 2 and "32 hex digits" in bad_trace.output
    bad_since = run(log_dir, monkeypatch, "--since", "yesterday")
    assert bad_since.exit_code == 2 and "10m" in bad_since.output
    (log_dir / "api-gateway.log").write_text("")
    assert run(log_dir, monkeypatch, "--trace", TRACE.upper()).exit_code == 0

    missing = run(log_dir / "nowhere", monkeypatch)
    assert missing.exit_code == 1 and "airscope up" in missing.output


# --- follow -------------------------------------------------------------------------------------------


def test_follow_picks_up_appended_lines_rotation_and_new_files(log_dir: Path) -> None:
    appended = entry("10:00:01.000", "appended")
    current = write(log_dir / "api-gateway.log", entry("10:00:00.000", "already there"))
    with current.open("ab") as file:
        file.write(appended[:20])  # being written: left for later
    store = LogStore(log_dir)
    assert events(store.query(Query())) == ["already there"]

    with current.open("ab") as file:
        file.write(appended[20:] + b"\n" + entry("10:00:02.000", "before rotation")[:20])
    follower = store.follow(Query(level="info"), deadline=time.monotonic() + 1.5, interval=0.05)
    assert next(follower).fields["event"] == "appended"  # from where the query stopped; the half line waits

    with current.open("ab") as file:
        file.write(entry("10:00:02.000", "before rotation")[20:] + b"\n")
    current.rename(log_dir / "api-gateway.log.1")
    write(
        log_dir / "api-gateway.log",
        entry("10:00:03.000", "after rotation"),
        entry("10:00:03.5", "d", level="debug"),
    )
    write(log_dir / "mcp-server.log", entry("10:00:04.000", "new program", service="mcp-server"))
    started = time.monotonic()
    assert events(list(follower)) == ["before rotation", "after rotation", "new program"]
    assert time.monotonic() - started < 2  # it ends at the deadline


# --- retention ----------------------------------------------------------------------------------------


def test_retention_deletes_backups_beyond_the_size_and_never_the_current_file(log_dir: Path) -> None:
    kib = b"x" * 1023
    for name in ("api-gateway.log", "api-gateway.log.1", "api-gateway.log.2", "api-gateway.log.3"):
        write(log_dir / name, kib)
    write(log_dir / "redis.log", kib * 5)

    deleted = apply_retention(log_dir, 2048, timedelta(days=7))
    assert sorted(path.name for path in deleted) == ["api-gateway.log.2", "api-gateway.log.3"]
    assert sorted(path.name for path in log_dir.iterdir()) == [
        "api-gateway.log",
        "api-gateway.log.1",
        "redis.log",
    ]


def test_retention_deletes_backups_older_than_the_age_and_never_the_current_file(log_dir: Path) -> None:
    now = time.time()
    write(log_dir / "postgres.log", "old but current", mtime=now - 30 * 86400)
    write(log_dir / "postgres.log.1", "old", mtime=now - 30 * 86400)
    write(log_dir / "api-gateway.log.1", "recent", mtime=now - 3600)
    write(log_dir / "api-gateway.log.2", "old", mtime=now - 8 * 86400)

    deleted = apply_retention(log_dir, 10**9, timedelta(days=7), now=now)
    assert sorted(path.name for path in deleted) == ["api-gateway.log.2", "postgres.log.1"]
    assert sorted(path.name for path in log_dir.iterdir()) == ["api-gateway.log.1", "postgres.log"]


def test_retention_settings_come_from_the_environment(log_dir: Path, monkeypatch) -> None:
    assert logs.retention_settings({}) == (50 * 1024**2, timedelta(days=7))
    env = {"AIRSCOPE_LOG_MAX_BYTES": "2KiB", "AIRSCOPE_LOG_MAX_AGE": "12h"}
    assert logs.retention_settings(env) == (2048, timedelta(hours=12))
    # airscope.units' grammar: KB is 1000 bytes, a bare number bytes, and an age's bare number seconds.
    assert logs.retention_settings({"AIRSCOPE_LOG_MAX_BYTES": "2KB"})[0] == 2000
    assert logs.retention_settings({"AIRSCOPE_LOG_MAX_BYTES": "4096"})[0] == 4096
    assert logs.retention_settings({"AIRSCOPE_LOG_MAX_AGE": "3600"})[1] == timedelta(hours=1)
    with pytest.raises(LocalError, match=r"AIRSCOPE_LOG_MAX_AGE.*a bare number means seconds"):
        logs.retention_settings({"AIRSCOPE_LOG_MAX_AGE": "a week"})
    with pytest.raises(LocalError, match=r"AIRSCOPE_LOG_MAX_BYTES.*Unset it for 50MiB"):
        logs.retention_settings({"AIRSCOPE_LOG_MAX_BYTES": "lots"})

    for name in ("api-gateway.log", "api-gateway.log.1", "api-gateway.log.2"):
        write(log_dir / name, b"x" * 1023)
    monkeypatch.setenv("AIRSCOPE_LOG_MAX_BYTES", "2KiB")
    assert [path.name for path in apply_retention(log_dir)] == ["api-gateway.log.2"]
