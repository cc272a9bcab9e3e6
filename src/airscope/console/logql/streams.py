"""Log queries: the last lines a query matches, read newest first through the engine."""

from __future__ import annotations

import hashlib
import heapq
from collections import deque
from datetime import datetime
from pathlib import Path

from airscope.console.logql import window
from airscope.console.logql.match import Judge, prefilter
from airscope.console.logql.parse import LogQuery
from airscope.local.logs import Line, LogStore, base

MAX_LIMIT = 5000  # Loki's default max_entries_limit_per_query


def frame(query: LogQuery, expr: str, start: str, end: str, log_dir: Path, limit: int) -> dict:
    """The "logs" frame of a log query: its last ``limit`` lines (at most Loki's) from ``start`` to
    ``end`` (keys), oldest first."""
    limit = max(1, min(limit, MAX_LIMIT))
    lines = _search(LogStore(log_dir), query, start, end, limit)
    return {"kind": "logs", "lines": [log_line(line) for line in lines], "query": expr}


def _search(store: LogStore, query: LogQuery, start: str, end: str, limit: int) -> list[Line]:
    """The last ``limit`` matching lines between ``start`` and ``end`` (keys), oldest first."""
    judge = Judge(query)
    since = datetime.fromisoformat(start)
    asked = limit
    for _ in range(2):  # the engine's newest lines, then 8 times more when the exact check dropped some
        found = list(store.query(prefilter(query, since, asked)))
        kept = [ln for ln in found if ln.key <= end and judge(ln.program, ln.raw, ln.fields) is not None]
        if len(found) < asked or len(kept) >= limit:  # all candidates seen, or enough of them
            return kept[-limit:]
        asked *= 8
    # Few of the newest candidates match (a range ending in the past, a regex the engine cannot
    # narrow by): read the range itself, keeping each program's last ``limit``.
    per_program: dict[str, deque[Line]] = {}
    for key, program, raw, fields in window.lines(store.log_dir, start, end, query):
        if judge(program, raw, fields) is not None:
            per_program.setdefault(program, deque(maxlen=limit)).append(Line(key, program, raw, fields))
    merged = heapq.merge(*per_program.values(), key=lambda line: line.key)
    return list(deque(merged, maxlen=limit))


def log_line(line: Line) -> dict:
    """A line as the browser gets it (the plan's LogLine); ``key`` is stable, so a page can tell a
    line it already shows."""
    digest = hashlib.blake2b(line.raw, digest_size=6).hexdigest()
    fields = line.fields
    when = datetime.fromisoformat(line.key)
    level = fields.get("level") if fields else None
    trace = fields.get("trace_id") if fields else None
    if fields and fields.get("trace_sampled") is False:
        trace = None  # the trace was not kept (an OTEL_TRACES_SAMPLER below 1): no link to open
    return {
        "key": f"{line.key} {line.program} {digest}",
        "ms": int(when.timestamp() * 1000),
        "program": line.program,
        "service": (fields.get("service") if fields else None) or base(line.program),
        "level": level.lower() if isinstance(level, str) else None,
        "message": str(fields.get("event", "")) if fields else line.raw.decode(errors="replace"),
        "traceId": trace if isinstance(trace, str) else None,
        "fields": fields,
        "raw": line.raw.decode(errors="replace"),
    }
