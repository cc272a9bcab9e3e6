"""Where the operator's MCP tools read logs and traces: the local platform's files, or production's
Loki and Tempo (``loki``, ``tempo``). Each source answers the same questions in the same shapes, so
a tool never asks which one it has.

A log line is a dict: the JSON line as the service wrote it (``timestamp``, ``level``, ``service``,
``event``, ``trace_id``...), or ``{"timestamp", "program", "text"}`` for a plain-text line. A trace
summary is ``airscope traces --json``'s shape, a whole trace ``airscope trace --json``'s.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import orjson

from airscope.errors import AirscopeError
from airscope.local import logs, traces


@dataclass(frozen=True)
class LogQuery:
    services: tuple[str, ...] = ()  # a service name each; empty: every program
    level: str | None = None  # this level and above (logs.LEVELS)
    trace_id: str | None = None  # 32 lowercase hex digits
    since: datetime | None = None
    until: datetime | None = None
    grep: str | None = None  # a substring of the raw line (case-sensitive)
    limit: int = 100  # the last N matching lines


@dataclass(frozen=True)
class TraceQuery:
    service: str | None = None  # any span of the trace is from this service (or instance)
    min_duration_ns: int = 0
    errors: bool = False  # any span's status is ERROR
    since: datetime | None = None  # the trace began then or later
    limit: int = 20


class LogSource(Protocol):
    """``where``: what a reader is told the lines came from ("the files under ...", "Loki at ...")."""

    where: str

    def describe(self, query: LogQuery) -> str:
        """The query as this source runs it (LogQL; the equivalent `airscope logs` command locally),
        for the answer to show."""
        ...

    def lines(self, query: LogQuery) -> list[dict]:
        """The last ``query.limit`` matching lines, oldest first. Raises ``AirscopeError`` (a message
        naming the source and the cause) when the source cannot answer."""
        ...


class TraceSource(Protocol):
    where: str

    def describe(self, query: TraceQuery) -> str:
        """The search as this source runs it (TraceQL; the equivalent `airscope traces` command locally)."""
        ...

    def recent(self, query: TraceQuery) -> list[dict]:
        """The newest matching traces, newest first, at most ``query.limit``: summaries."""
        ...

    def trace(self, trace_id: str) -> dict:
        """One trace, its spans as a tree; ``AirscopeError`` when it is not there (yet)."""
        ...


class LocalLogs:
    """The log files of the local platform (airscope.local.logs), as ``airscope logs`` reads them."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.where = f"the log files under {log_dir}"

    def describe(self, query: LogQuery) -> str:
        return _command(
            "airscope logs --json",
            *(f"--service {name}" for name in query.services),
            query.level and f"--level {query.level}",
            query.trace_id and f"--trace {query.trace_id}",
            query.since and f"--since {logs.format_timestamp(query.since)}",
            query.grep and f"--grep {shlex.quote(query.grep)}",
            f"--limit {query.limit}",
            query.until and f"(lines until {logs.format_timestamp(query.until)})",
        )

    def lines(self, query: LogQuery) -> list[dict]:
        asked = logs.Query(
            frozenset(query.services), query.level, query.trace_id, query.since, query.grep, query.limit
        )
        until = logs.format_timestamp(query.until) if query.until else None
        found = logs.LogStore(_existing(self.log_dir, "logs")).query(asked)
        return [orjson.loads(logs.as_json(line)) for line in found if until is None or line.key <= until]


class LocalTraces:
    """The span files of the local platform (airscope.local.traces), as ``airscope traces`` reads them."""

    def __init__(self, trace_dir: Path) -> None:
        self.trace_dir = trace_dir
        self.where = f"the span files under {trace_dir}"

    def describe(self, query: TraceQuery) -> str:
        return _command(
            "airscope traces --json",
            query.service and f"--service {query.service}",
            query.min_duration_ns and f"--min-duration {query.min_duration_ns / 1e6:g}ms",
            query.errors and "--errors",
            query.since and f"--since {logs.format_timestamp(query.since)}",
            f"--limit {query.limit}",
        )

    def recent(self, query: TraceQuery) -> list[dict]:
        keep = traces.TraceFilter(
            service=query.service,
            min_duration_ns=query.min_duration_ns,
            errors=query.errors,
            since_ns=round(query.since.timestamp() * 1e9) if query.since else None,
        )
        found = []
        for trace in traces.recent_traces(_existing(self.trace_dir, "traces"), keep):
            found.append(traces.summary_json(trace))
            if len(found) >= query.limit:
                break
        return found

    def trace(self, trace_id: str) -> dict:
        return traces.trace_json(traces.load_trace(_existing(self.trace_dir, "traces"), trace_id))


def _command(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part)


def _existing(directory: Path, what: str) -> Path:
    if not directory.is_dir():
        raise AirscopeError(
            f"no {what}: {directory} does not exist; run `airscope up` (or set $AIRSCOPE_HOME)"
        )
    return directory
