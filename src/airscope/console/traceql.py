"""The TraceQL subset the dashboards' Tempo targets use, run against the local span files.

Grafana sends a Tempo target to Tempo; the console runs it here (``run``, called by
``POST /api/ds/query`` with the target and its interpolated query). What runs:

- ``queryType: serviceMap``: the service map from the spans of the time range
  (``airscope.local.traces.topology``), a "graph" frame;
- one spanset, ``{ cond && cond ... }`` (or ``{}``), each condition ``field op value`` with the
  fields ``resource.<attr>``, ``span.<attr>``, ``.<attr>`` (either), ``name``, ``status``
  (``error|ok|unset``), ``kind`` and ``duration`` (``100ms``, ``1.5s``...), the operators
  ``= != =~ !~`` (and ``> >= < <=`` on numbers and durations): the newest traces that began in the
  range with a span meeting every condition, as Tempo matches them, a "traces" frame;
- a trace id (or ``queryType: traceId``): that trace.

Anything else (``||``, pipelines and aggregates, structural operators, ``traceDuration``, span
tables) answers an "unsupported" frame saying what and that production's Tempo runs it: never an
empty table that looks like data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from airscope.errors import AirscopeError
from airscope.local.traces import Trace, TraceFilter, recent_traces
from airscope.local.traces import topology as topologies
from airscope.local.traces.files import Span, find_spans

DEFAULT_LIMIT = 20
SUBSET = (
    "the local console runs one spanset {cond && ...} on resource.*, span.*, .*, name, status, kind "
    "and duration, a trace id, and the service map"
)
_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<duration>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))\b
      | (?P<number>-?\d+(?:\.\d+)?)\b
      | (?P<op>&&|\|\||=~|!~|!=|>=|<=|>>|<<|!>>|!<<|=|>|<|\{|\}|\||\(|\)|~|!)
      | (?P<word>[A-Za-z_.][\w.\-:/]*)
    )""",
    re.VERBOSE,
)
_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUSES = {"error": "ERROR", "ok": "OK", "unset": "unset"}
_INTRINSICS = ("name", "status", "kind", "duration")
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
}


class Unsupported(AirscopeError, ValueError):
    """A query outside the subset; the message says what part."""


@dataclass(frozen=True)
class Condition:
    field: str  # name, status, kind, duration, or resource.<attr> / span.<attr> / .<attr>
    op: str
    value: object  # str, int (ns for durations), float, bool, or a compiled pattern for =~ and !~

    def __call__(self, span: Span) -> bool:
        found = self._lookup(span)
        if found is _MISSING:
            return False  # as in Tempo: a span without the attribute meets no condition on it, != too
        if self.op in ("=~", "!~"):
            hit = isinstance(found, str) and self.value.fullmatch(found) is not None  # type: ignore[union-attr]
            return hit if self.op == "=~" else not hit
        try:
            return _COMPARE[self.op](found, self.value)
        except TypeError:
            return False

    def _lookup(self, span: Span) -> object:
        if self.field == "name":
            return span.name
        if self.field == "status":
            return span.status
        if self.field == "kind":
            return span.kind
        if self.field == "duration":
            return span.duration_ns
        scope, _, key = self.field.partition(".")
        if key in ("service.name",) and scope in ("resource", ""):
            return span.service  # the common case, without decoding the span's attributes
        if scope in ("resource", "") and key in span.resource:
            return span.resource[key]
        if scope in ("span", ""):
            attributes = span.attributes()
            if key in attributes:
                return attributes[key]
        return _MISSING


_MISSING = object()


@dataclass(frozen=True)
class Spanset:
    conditions: tuple[Condition, ...]

    def matches(self, trace: Trace) -> bool:
        return any(all(condition(span) for condition in self.conditions) for span in trace.spans)

    def prefilter(self, start_ns: int) -> TraceFilter:
        """What ``recent_traces`` can search for by literal before parsing: a trace holding such a span
        is in this filter's answer too."""
        service = next(
            (
                str(c.value)
                for c in self.conditions
                if c.field in ("resource.service.name", ".service.name") and c.op == "="
            ),
            None,
        )
        errors = any(c.field == "status" and c.op == "=" and c.value == "ERROR" for c in self.conditions)
        longer = [
            int(c.value)  # type: ignore[call-overload]
            for c in self.conditions
            if c.field == "duration" and c.op in (">", ">=")
        ]
        return TraceFilter(
            service=service, min_duration_ns=max(longer, default=0), errors=errors, since_ns=start_ns
        )


def parse(query: str) -> Spanset:
    """The spanset of a query in the subset; ``Unsupported`` naming the first thing outside it."""
    tokens = _tokens(query)
    if not tokens or tokens[0] != ("op", "{"):
        raise Unsupported("a TraceQL query here is one spanset in braces: {...}")
    try:
        close = tokens.index(("op", "}"))
    except ValueError:
        raise Unsupported("the spanset's closing brace is missing") from None
    if close != len(tokens) - 1:
        rest = " ".join(text for _, text in tokens[close + 1 :])
        raise Unsupported(f"only one spanset, without pipelines or structure: {rest!r} follows it")
    inner = tokens[1:close]
    conditions = []
    position = 0
    while position < len(inner):
        if len(inner) - position < 3:
            raise Unsupported(f"an incomplete condition: {' '.join(t for _, t in inner[position:])!r}")
        (field_kind, field), (op_kind, op), value = inner[position : position + 3]
        if field_kind != "word" or op_kind != "op" or op not in (*_COMPARE, "=~", "!~"):
            raise Unsupported(f"a condition is `field op value`, not {field!r} {op!r} {value[1]!r}")
        conditions.append(_condition(field, op, value))
        position += 3
        if position < len(inner):
            if inner[position] != ("op", "&&"):
                raise Unsupported(f"conditions are joined by && only, not {inner[position][1]!r}")
            position += 1
            if position == len(inner):
                raise Unsupported("a condition is missing after &&")
    return Spanset(tuple(conditions))


def _tokens(query: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    query = query.strip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise Unsupported(f"cannot read {query[position:].strip()[:30]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match[kind]))
        position = match.end()
        while position < len(query) and query[position].isspace():
            position += 1
    return tokens


def _condition(field: str, op: str, value: tuple[str, str]) -> Condition:
    kind, text = value
    scope = field.partition(".")[0] if "." in field else None
    if scope is None and field not in _INTRINSICS:
        raise Unsupported(
            f"{field!r} is not a field here (name, status, kind, duration, resource.*, span.*, .*)"
        )
    if scope not in (None, "resource", "span", ""):
        raise Unsupported(f"{field!r}: only resource., span. and . attributes")
    if op in ("=~", "!~"):
        if kind != "string":
            raise Unsupported(f"{op} needs a quoted pattern, not {text!r}")
        try:
            return Condition(field, op, re.compile(_unquote(text)))
        except re.error as error:
            raise Unsupported(f"the pattern {text} is not a regular expression: {error}") from None
    if field == "duration":
        if kind != "duration":
            raise Unsupported(f"duration compares with a duration (100ms, 1.5s), not {text!r}")
        number, unit = re.fullmatch(r"([\d.]+)(\D+)", text).groups()  # type: ignore[union-attr]
        return Condition(field, op, round(float(number) * _UNITS_NS[unit]))
    if field == "status":
        if kind != "word" or text not in _STATUSES or op not in ("=", "!="):
            raise Unsupported(f"status is = or != error, ok or unset, not {op} {text!r}")
        return Condition(field, op, _STATUSES[text])
    if field == "kind":
        if kind != "word" or text not in _KINDS or op not in ("=", "!="):
            raise Unsupported(f"kind is = or != one of {', '.join(_KINDS)}, not {op} {text!r}")
        return Condition(field, op, _KINDS[text])
    if kind == "string":
        return Condition(field, op, _unquote(text))
    if kind == "number":
        return Condition(field, op, float(text) if "." in text else int(text))
    if kind == "word" and text in ("true", "false"):
        return Condition(field, op, text == "true")
    raise Unsupported(f"{text!r} is not a value here (a quoted string, a number, true or false)")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def summary(trace: Trace) -> dict:
    """A TraceSummary of the console's API."""
    root = trace.root().span
    return {
        "traceId": trace.trace_id,
        "startMs": trace.start_ns / 1e6,
        "durationMs": trace.duration_ns / 1e6,
        "rootService": root.service,
        "rootName": root.name,
        "spanCount": len(trace.spans),
        "services": trace.services,
        "error": trace.error,
    }


def search(trace_dir: Path, spanset: Spanset, start_ns: int, end_ns: int, limit: int) -> list[Trace]:
    """The newest traces begun within the range with a span the spanset matches, at most ``limit``."""
    found: list[Trace] = []
    if limit <= 0:
        return found
    for trace in recent_traces(trace_dir, spanset.prefilter(start_ns)):
        if trace.start_ns > end_ns or not spanset.matches(trace):
            continue
        found.append(trace)
        if len(found) >= limit:
            break
    return found


def unsupported(query: str, why: str) -> dict:
    return {
        "kind": "unsupported",
        "message": f"production only: needs Tempo ({why}; {SUBSET})",
        "query": query,
    }


def run(target: dict, query: str, start_ms: int, end_ms: int, trace_dir: Path) -> dict:
    """A Tempo target over [start_ms, end_ms]: a "traces", "graph", "unsupported" or "error" frame."""
    query_type = target.get("queryType") or "traceql"
    start_ns, end_ns = int(start_ms) * 1_000_000, int(end_ms) * 1_000_000
    if query_type == "serviceMap":
        try:
            return topologies.observed(trace_dir, start_ns, end_ns).frame()
        except AirscopeError as error:
            return {"kind": "error", "message": str(error)}
    text = (query or "").strip()
    if query_type == "traceId" or (query_type == "traceql" and _TRACE_ID.fullmatch(text)):
        if not _TRACE_ID.fullmatch(text):
            return {"kind": "error", "message": f"{text!r} is not a trace id (up to 32 hex digits)"}
        spans = find_spans(trace_dir, text.lower().rjust(32, "0"))
        traces = [summary(Trace(spans[0].trace_id, spans))] if spans else []
        return {"kind": "traces", "traces": traces, "query": text}
    if query_type != "traceql":
        return unsupported(text, f"queryType {query_type!r} is not run locally")
    table_type = target.get("tableType") or "traces"
    if table_type != "traces":
        return unsupported(text, f"tableType {table_type!r}: only whole traces are listed locally")
    try:
        spanset = parse(text)
    except Unsupported as why:
        return unsupported(text, str(why))
    limit = int(target.get("limit") or DEFAULT_LIMIT)
    traces = search(trace_dir, spanset, start_ns, end_ns, limit)
    return {"kind": "traces", "traces": [summary(trace) for trace in traces], "query": text}
