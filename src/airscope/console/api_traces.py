"""The traces API of the console: Explore's trace search and waterfall, and the service map.

- ``GET /api/traces?service=&minDuration=100ms&errors=true&since=1h&limit=20``: the newest traces
  that pass the filters of ``airscope traces``, as ``{"traces": [TraceSummary]}``;
- ``GET /api/traces/{traceId}``: one trace with its spans in tree order (each with its depth),
  ``startMs`` of a span and ``ms`` of its events counted from the trace's start;
- ``GET /api/servicemap?from=now-1h&to=now``: the "graph" frame of the calls in the range.

The span files are read per request for searches and traces (a search reads only the ends of them it
needs). The service map is folded as spans come (``topology.observed`` keeps it per directory, reading
only what was appended): from the start of the process a thread keeps it up to date, so that the first
page opened after an hour of load does not read the hour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from airscope import units
from airscope.console import timerange
from airscope.console.traceql import summary
from airscope.errors import AirscopeError
from airscope.local import LocalError
from airscope.local.logs import parse_since, parse_trace_id
from airscope.local.traces import Node, Trace, TraceFilter, load_trace, recent_traces
from airscope.local.traces import topology as topologies

MAX_LIMIT = 1000
_KINDS = {0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUSES = {"OK": "ok", "ERROR": "error"}


@asynccontextmanager
async def _follow_spans(app: FastAPI) -> AsyncIterator[None]:
    """While the console serves, a thread keeps the service map of its span directory folded."""
    stop = topologies.follow(Path(app.state.config.trace_dir))
    try:
        yield
    finally:
        stop.set()


router = APIRouter(lifespan=_follow_spans)


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _trace_dir(request: Request) -> Path:
    return request.app.state.config.trace_dir


@router.get("/api/traces")
def search_traces(
    request: Request,
    service: str = "",
    min_duration: str = Query("", alias="minDuration"),
    errors: bool = False,
    since: str = "",
    limit: int = 20,
) -> JSONResponse:
    try:
        min_ns = round(units.parse_duration(min_duration) * 1e9) if min_duration.strip() else 0
    except ValueError as error:
        return _bad(f"minDuration: {error}")
    try:
        since_ns = round(parse_since(since).timestamp() * 1e9) if since.strip() else None
    except ValueError as error:
        return _bad(f"since: {error}")
    if not 0 < limit <= MAX_LIMIT:
        return _bad(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    keep = TraceFilter(
        service=service.strip() or None, min_duration_ns=min_ns, errors=errors, since_ns=since_ns
    )
    found = []
    for trace in recent_traces(_trace_dir(request), keep):
        found.append(summary(trace))
        if len(found) >= limit:
            break
    return JSONResponse({"traces": found})


@router.get("/api/traces/{trace_id}")
def get_trace(request: Request, trace_id: str) -> JSONResponse:
    try:
        wanted = parse_trace_id(trace_id.strip())
    except ValueError as error:
        return _bad(str(error))
    try:
        trace = load_trace(_trace_dir(request), wanted)
    except LocalError as error:
        return _bad(str(error), 404)
    return JSONResponse(trace_out(trace))


@router.get("/api/servicemap")
def service_map(
    request: Request, start: str = Query("now-1h", alias="from"), to: str = "now"
) -> JSONResponse:
    try:
        window = timerange.resolve(start, to)
    except timerange.TimeRangeError as error:
        return _bad(str(error))
    try:
        found = topologies.observed(_trace_dir(request), window.from_ms * 1_000_000, window.to_ms * 1_000_000)
    except AirscopeError as error:  # a broken catalog: the message names the entry
        return _bad(str(error), 500)
    return JSONResponse(found.frame())


def trace_out(trace: Trace) -> dict:
    """A trace as the waterfall draws it: its spans in tree order, each after its parent."""
    start = trace.start_ns
    spans: list[dict] = []

    # Depth first with a stack, not recursion: a trace may nest deeper than Python's recursion limit.
    stack: list[tuple[Node, int]] = [(root, 0) for root in reversed(trace.tree())]
    while stack:
        node, depth = stack.pop()
        span = node.span
        spans.append(
            {
                "spanId": span.span_id,
                "parentSpanId": span.parent_span_id,
                "parentMissing": node.parent_missing,
                "name": span.name,
                "service": span.service,
                "instance": span.instance,
                "kind": _KINDS.get(span.kind, "internal"),
                "startMs": (span.start_ns - start) / 1e6,
                "durationMs": span.duration_ns / 1e6,
                "status": _STATUSES.get(span.status, "unset"),
                "statusMessage": span.status_message,
                "attributes": span.attributes(),
                "events": [
                    {
                        "name": e["name"],
                        "ms": (int(e["time_ns"]) - start) / 1e6,
                        "attributes": e["attributes"],
                    }
                    for e in span.events()
                ],
                "depth": depth,
            }
        )
        stack += ((child, depth + 1) for child in reversed(node.children))
    return {
        "traceId": trace.trace_id,
        "startMs": start / 1e6,
        "durationMs": trace.duration_ns / 1e6,
        "services": trace.services,
        "spans": spans,
    }
