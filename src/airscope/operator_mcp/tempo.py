"""Production's traces, read from Tempo's HTTP API (as documented for Tempo 2.10 and 3.0, which answer
alike), in the shapes ``LocalTraces`` answers.

- ``recent``: ``GET /api/search`` with a TraceQL ``q``, ``start``/``end`` in Unix seconds and
  ``limit``. Each condition is a spanset of its own, joined with ``&&`` (the trace has a span of each,
  as ``airscope traces`` filters), and the ``most_recent`` hint makes Tempo keep the newest traces
  rather than the first it finds::

      { resource.service.name = "api-gateway" || resource.service.instance.id = "api-gateway" }
        && { status = error } && { trace:duration >= 250ms } with (most_recent=true)

- ``trace``: ``GET /api/v2/traces/<id>``: ``{"trace": {"resourceSpans": [...]}, "status": ...}``, OTLP
  as gogo/protobuf's jsonpb writes it: ids in base64 (the standard protobuf mapping, not OTLP/JSON's
  hex: grafana/tempo#5437, still open in 3.0), kinds and status codes as enum names, 64-bit numbers
  as strings. The ids are turned to hex and the spans read by the span files' own reader, so the
  answer is ``airscope trace --json``'s.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from airscope.errors import AirscopeError
from airscope.local import traces
from airscope.local.logs import format_timestamp
from airscope.operator_mcp import limits
from airscope.operator_mcp.httpjson import JSONAPI, BackendError
from airscope.operator_mcp.sources import TraceQuery

SEARCH = "/api/search"
TRACE_BY_ID = "/api/v2/traces/{}"
DEFAULT_SINCE = timedelta(hours=1)
# Tempo's rootServiceName for a trace whose root span it has not (pkg/search/util.go).
ROOT_NOT_YET_RECEIVED = "<root span not yet received>"
_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


class TempoTraces:
    """Tempo's traces. A search answer holds less than a trace does, so of ``recent``'s summaries:

    - ``duration_ms`` is whole milliseconds (Tempo's ``durationMs``);
    - ``root`` is Tempo's root span (``rootServiceName``, ``rootTraceName``); when Tempo has not
      received it, ``service`` and ``name`` are None and ``parent_missing`` is True;
    - ``span_count``, ``services`` and ``error`` come from Tempo's ``serviceStats`` (span and error
      counts per service over the whole trace); an answer without them gives None for each.
    """

    def __init__(
        self,
        url: str,
        tenant: str | None = None,
        timeout: float = limits.CALL_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = JSONAPI("Tempo", url, tenant, timeout, transport)
        self.url = self._api.url
        self.where = self._api.where

    def close(self) -> None:
        self._api.close()

    def describe(self, query: TraceQuery) -> str:
        return traceql(query)

    def recent(self, query: TraceQuery) -> list[dict]:
        now = datetime.now(UTC)
        since = query.since or now - DEFAULT_SINCE
        params = {
            "q": traceql(query),
            "start": int(since.timestamp()),
            "end": int(now.timestamp()) + 1,
            "limit": query.limit,
        }
        body = self._api.get(SEARCH, params)
        # jsonpb leaves an empty list out: no "traces" is no trace.
        found = body.get("traces", []) if isinstance(body, dict) else None
        if not isinstance(found, list) or not all(isinstance(t, dict) and "traceID" in t for t in found):
            raise self._api.fail(f"{SEARCH} answered no list of traces: {str(body)[:300]}")
        try:
            started = [(int(t.get("startTimeUnixNano") or 0), t) for t in found]
        except (TypeError, ValueError) as exc:
            raise self._api.fail(f"{SEARCH} answered a trace without a start time ({exc})") from None
        # Tempo's window also holds traces that began before it and reached into it.
        since_ns = round(since.timestamp() * 1e9)
        newest = sorted((pair for pair in started if pair[0] >= since_ns), key=lambda p: p[0], reverse=True)
        return [_summary(start_ns, item, query.errors) for start_ns, item in newest[: query.limit]]

    def trace(self, trace_id: str) -> dict:
        trace_id = trace_id.lower()
        path = TRACE_BY_ID.format(trace_id)
        try:
            body = self._api.get(path)
        except BackendError as exc:
            if exc.status == 404:
                raise self._not_found(trace_id) from None
            raise
        trace = body.get("trace") if isinstance(body, dict) else None
        if not isinstance(trace, dict):
            raise self._api.fail(f"{path} answered no trace: {str(body)[:300]}")
        # Tempo answers an id it does not hold with an empty trace (200), or 404 when one is hidden.
        resource_spans = trace.get("resourceSpans") or trace.get("batches") or []
        try:
            for batch in resource_spans:
                for scope in batch.get("scopeSpans") or ():
                    for span in scope.get("spans") or ():
                        _ids_to_hex(span)
            spans = traces.parse_line(orjson.dumps({"resourceSpans": resource_spans}))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self._api.fail(f"{path} answered spans not in OTLP's shape ({exc!r})") from None
        if not spans:
            raise self._not_found(trace_id)
        return traces.trace_json(traces.Trace(trace_id, spans))

    def _not_found(self, trace_id: str) -> AirscopeError:
        return AirscopeError(
            f"trace {trace_id} is not in {self.where} (yet): spans reach Tempo some seconds after a "
            "request ends, and the trace of a request that was not sampled is never there"
        )


def traceql(query: TraceQuery) -> str:
    """The TraceQL search for ``query``: each condition on any span of the trace."""
    conditions = []
    if query.service:
        name = _string(query.service)
        conditions.append(f"{{ resource.service.name = {name} || resource.service.instance.id = {name} }}")
    if query.errors:
        conditions.append("{ status = error }")
    if query.min_duration_ns > 0:
        conditions.append(f"{{ trace:duration >= {_duration(query.min_duration_ns)} }}")
    return f"{' && '.join(conditions) or '{ }'} with (most_recent=true)"


def _string(value: str) -> str:
    """A TraceQL string literal: its lexer knows the escapes ``\\"`` and ``\\\\`` alone."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _duration(ns: int) -> str:
    for unit, size in (("ms", 10**6), ("us", 10**3)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _summary(start_ns: int, found: dict, errors_asked: bool) -> dict:
    """A search answer's trace as ``airscope traces --json`` shows one (see ``TempoTraces``)."""
    stats = found.get("serviceStats")
    stats = stats if isinstance(stats, dict) and stats else None
    root_service = found.get("rootServiceName")
    missing = not root_service or root_service == ROOT_NOT_YET_RECEIVED
    return {
        # Tempo's search writes trace ids without their leading zeros (pkg/util.TraceIDToHexString).
        "trace_id": str(found["traceID"]).lower().rjust(32, "0"),
        "root": {
            "service": None if missing else root_service,
            "name": None if missing else found.get("rootTraceName", ""),
            "parent_missing": missing,
        },
        "start_time": format_timestamp(datetime.fromtimestamp(start_ns / 1e9, UTC)),
        "duration_ms": float(found.get("durationMs") or 0),
        "span_count": sum(int(s.get("spanCount") or 0) for s in stats.values()) if stats else None,
        "services": sorted(stats) if stats else None,
        "error": any(int(s.get("errorCount") or 0) for s in stats.values())
        if stats
        else errors_asked or None,
    }


def _ids_to_hex(span: dict) -> None:
    """The span's ids as OTLP/JSON and the span files write them: lowercase hex. Tempo writes base64
    (24 characters for a trace id, 12 for a span id); hex (32, 16) is taken as it is."""
    for key, size in _ID_BYTES.items():
        value = span.get(key)
        if not value:
            continue
        if len(value) == 2 * size and all(c in "0123456789abcdefABCDEF" for c in value):
            span[key] = value.lower()
            continue
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise ValueError(f"{key} {value!r} is neither hex nor base64 of {size} bytes")
        span[key] = raw.hex()
