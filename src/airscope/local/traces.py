"""``airscope trace`` and ``airscope traces``: requests as span trees, read from the OTLP JSON lines that
every service instance writes under ``traces/`` (``<instance id>.jsonl``, see docs/telemetry.md).

Each line is one export batch, an ExportTraceServiceRequest in OTLP/JSON: ``resourceSpans`` (the
resource names the service) > ``scopeSpans`` > ``spans``. In OTLP/JSON, unlike proto3's own JSON
mapping, trace and span ids are hex strings (not base64; the exporter writes lowercase), nanosecond
times and ``intValue`` are decimal strings, status codes are integers (0 unset, 1 OK, 2 ERROR), and a
root span has no ``parentSpanId``. The exporter writes compact JSON, so every span of a trace holds
the literal ``"traceId":"<id>"``.

Speed comes from parsing little, with orjson: ``trace`` searches each memory-mapped file for that literal
and parses only the lines holding it. ``traces`` reads the files from their end, takes only the ids and
times of the spans from each line (regular expressions, no parsing), parses the lines of the traces it
shows, and stops once it has the newest ones whole; --errors and --service first search for a literal
(``"code":2``, the service's name) to learn which trace ids can match at all.
"""

from __future__ import annotations

import heapq
import itertools
import mmap
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from airscope.local import paths
from airscope.local.logs import format_timestamp, parse_since

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_TRACE_IDS = re.compile(rb'"traceId":"([0-9a-f]{32})"')
_STARTS = re.compile(rb'"startTimeUnixNano":"?(\d+)')
_ENDS = re.compile(rb'"endTimeUnixNano":"?(\d+)')
_ERROR_LITERALS = (b'"code":2', b'"STATUS_CODE_ERROR"')  # a status's: no other OTLP/JSON key is "code"
_STATUS = {1: "OK", 2: "ERROR", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}
# The kit's server spans carry the stable HTTP convention; the httpx instrumentation, by default, the old.
_HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
# A file's spans are written in the order they end, give or take the threads of one process racing to
# the exporter's queue (and a clock stepping back): how far back a later line may still reach.
_ORDER_SLACK_NS = 2_000_000_000
_MISSING_PARENT = "?"


# --- spans ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str  # the resource's service.name
    instance: str | None  # its service.instance.id: api-gateway@2
    start_ns: int
    end_ns: int
    status: str  # OK, ERROR or unset
    status_message: str | None
    raw_attributes: list  # OTLP key/value pairs, decoded only for the spans shown

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def attributes(self) -> dict[str, object]:
        return _attributes(self.raw_attributes)

    def http_status(self) -> object | None:
        attributes = self.attributes()
        return next((attributes[key] for key in _HTTP_STATUS_KEYS if key in attributes), None)


def _value(any_value: dict) -> object:
    """An OTLP/JSON AnyValue as Python: one key naming its type."""
    for kind, value in any_value.items():
        if kind == "intValue":
            return int(value)
        if kind == "arrayValue":
            return [_value(item) for item in value.get("values", ())]
        if kind == "kvlistValue":
            return _attributes(value.get("values"))
        return value  # stringValue, boolValue, doubleValue; bytesValue stays base64
    return None


def _attributes(pairs: list | None) -> dict[str, object]:
    return {pair["key"]: _value(pair.get("value") or {}) for pair in pairs or ()}


def parse_line(raw: bytes) -> list[Span]:
    """The spans of one exported line; none when it is not JSON (a process killed in the middle of a
    write leaves half a line, and the next process appends to it)."""
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    spans = []
    for resource_spans in request.get("resourceSpans") or ():
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name", "unknown_service"))
        instance = resource.get("service.instance.id")
        for scope_spans in resource_spans.get("scopeSpans") or ():
            for span in scope_spans.get("spans") or ():
                status = span.get("status") or {}
                spans.append(
                    Span(
                        trace_id=span["traceId"],
                        span_id=span["spanId"],
                        parent_span_id=span.get("parentSpanId") or None,
                        name=span.get("name", ""),
                        service=service,
                        instance=instance,
                        start_ns=int(span["startTimeUnixNano"]),
                        end_ns=int(span["endTimeUnixNano"]),
                        status=_STATUS.get(status.get("code"), "unset"),
                        status_message=status.get("message") or None,
                        raw_attributes=span.get("attributes") or [],
                    )
                )
    return spans


# --- the files -----------------------------------------------------------------------------------------


def trace_files(trace_dir: Path) -> list[Path]:
    return sorted(trace_dir.glob("*.jsonl"))


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap | bytes]:
    """The file's bytes without reading them all: the page cache serves what a search touches."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            yield b""  # mmap refuses empty files
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf


def _lines_backward(buf: mmap.mmap | bytes) -> Iterator[bytes]:
    """Complete lines, last first; a line still being written (no newline yet) is left out."""
    end = buf.rfind(b"\n")
    while end > 0:
        start = buf.rfind(b"\n", 0, end) + 1
        if start < end:
            yield buf[start:end]
        end = start - 1


def _lines_holding(buf: mmap.mmap | bytes, needle: bytes) -> Iterator[bytes]:
    """The complete lines holding the literal, each once; the line being written is read next time."""
    hit = buf.find(needle)
    while hit >= 0:
        end = buf.find(b"\n", hit)
        if end < 0:
            return
        yield buf[buf.rfind(b"\n", 0, hit) + 1 : end]
        hit = buf.find(needle, end)


def find_spans(trace_dir: Path, trace_id: str) -> list[Span]:
    """Every span of the trace in every file: only the lines holding its id are parsed."""
    needle = f'"traceId":"{trace_id}"'.encode()
    found = []
    for path in trace_files(trace_dir):
        with _mapped(path) as buf:
            for raw in _lines_holding(buf, needle):
                found.extend(span for span in parse_line(raw) if span.trace_id == trace_id)
    return found


# --- traces --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    span: Span
    parent_missing: bool = False  # it has a parent, but that span is in no file
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: list[Span]

    @property
    def start_ns(self) -> int:
        return min(span.start_ns for span in self.spans)

    @property
    def duration_ns(self) -> int:
        return max(span.end_ns for span in self.spans) - self.start_ns

    @property
    def services(self) -> list[str]:
        return sorted({span.service for span in self.spans})

    @property
    def error(self) -> bool:
        return any(span.status == "ERROR" for span in self.spans)

    def tree(self) -> list[Node]:
        """The roots, each with its children, in start order. A span whose parent is missing (not
        sampled there, not written yet, or a caller that exports no spans) is a root too."""
        nodes = {span.span_id: Node(span) for span in sorted(self.spans, key=lambda s: (s.start_ns, s.name))}
        roots = []
        for node in nodes.values():
            parent = nodes.get(node.span.parent_span_id) if node.span.parent_span_id else None
            if parent is None:
                node.parent_missing = node.span.parent_span_id is not None
                roots.append(node)
            else:
                parent.children.append(node)
        return roots

    def root(self) -> Node:
        """The span that began the request: the first true root, else the first span without its parent."""
        return min(self.tree(), key=lambda node: (node.parent_missing, node.span.start_ns))


@dataclass(frozen=True)
class TraceFilter:
    service: str | None = None  # a service name or an instance id; any span of the trace
    min_duration_ns: int = 0
    errors: bool = False  # any span with status ERROR
    since_ns: int | None = None  # the trace began then or later

    def timely(self, start_ns: int, end_ns: int) -> bool:
        """The part of the filter that a trace's times alone decide."""
        return end_ns - start_ns >= self.min_duration_ns and (
            self.since_ns is None or start_ns >= self.since_ns
        )

    def __call__(self, trace: Trace) -> bool:
        return (
            self.timely(trace.start_ns, trace.start_ns + trace.duration_ns)
            and (self.service is None or any(self.service in (s.service, s.instance) for s in trace.spans))
            and (not self.errors or trace.error)
        )


def recent_traces(trace_dir: Path, keep: TraceFilter) -> Iterator[Trace]:
    """The traces that ``keep`` accepts, newest first, each with all its spans; stop when you have enough."""
    with ExitStack() as stack:
        buffers = [stack.enter_context(_mapped(path)) for path in trace_files(trace_dir)]
        wanted = _candidates(buffers, keep)
        if wanted is None or wanted:
            yield from _Scan(buffers, keep, wanted).traces()


def _candidates(buffers: list[mmap.mmap | bytes], keep: TraceFilter) -> set[bytes] | None:
    """The ids of the traces that may pass --errors and --service (None: not asked), found by searching
    for literals rather than reading every line: few spans fail, and one service wrote few of the lines."""
    found = None
    if keep.errors:
        found = {
            span.trace_id.encode()
            for buf in buffers
            for needle in _ERROR_LITERALS
            for raw in _lines_holding(buf, needle)
            for span in parse_line(raw)
            if span.status == "ERROR"
        }
    if keep.service:
        # The service's lines name it in their resource: more ids than needed, which keep sorts out.
        needle = f'"stringValue":"{keep.service}"'.encode()
        ids = {
            trace_id
            for buf in buffers
            for raw in _lines_holding(buf, needle)
            for trace_id in _TRACE_IDS.findall(raw)
        }
        found = ids if found is None else found & ids
    return found


def _span_times(raw: bytes) -> list[tuple[bytes, int, int]]:
    """(trace id, start, end) of each span of a line, without parsing it. Each span has one of each key,
    so with as many of each in the line the k-th ones are the k-th span's (a span link adds a traceId
    without times: such a line is parsed)."""
    ids, starts, ends = _TRACE_IDS.findall(raw), _STARTS.findall(raw), _ENDS.findall(raw)
    if len(ids) == len(starts) == len(ends):
        return list(zip(ids, map(int, starts), map(int, ends), strict=True))
    return [(span.trace_id.encode(), span.start_ns, span.end_ns) for span in parse_line(raw)]


@dataclass(slots=True)
class _Pending:
    start_ns: int
    end_ns: int
    lines: list[int]  # the numbers of the lines holding its spans


class _Scan:
    """Reads lines newest first across files, in the order of the last end among their spans (the
    horizon): no span still unread ended after it. A trace that began after the horizon has been read
    whole, and one not read yet began before it, so traces come out whole and newest first.

    Of a trace being read, only its times and the numbers of its lines are kept; its lines are parsed
    when it is whole and its times pass the filter."""

    def __init__(
        self, buffers: list[mmap.mmap | bytes], keep: TraceFilter, wanted: set[bytes] | None
    ) -> None:
        self.keep = keep
        self.wanted = wanted
        self.readers = [_lines_backward(buf) for buf in buffers]
        self.heads: list[tuple[int, int, int, list]] = []  # (-horizon, file, line number, span times)
        self.numbers = itertools.count()
        self.lines: dict[int, bytes] = {}  # the lines that traces being read have spans in
        self.users: dict[int, int] = {}  # line number -> how many traces being read have spans in it
        self.parsed: dict[int, list[Span]] = {}
        self.pending: dict[bytes, _Pending] = {}
        self.latest: list[tuple[int, bytes]] = []  # (-start, trace id): stale entries are skipped
        self.settled: set[bytes] = set()  # a span later than the slack allows does not make a new trace

    def traces(self) -> Iterator[Trace]:
        for index in range(len(self.readers)):
            self._advance(index)
        while self.heads:
            negative_horizon, index, number, times = heapq.heappop(self.heads)
            bound = -negative_horizon + _ORDER_SLACK_NS
            yield from self._settle(bound)
            if self.keep.since_ns is not None and bound < self.keep.since_ns:
                break  # whatever is left ended, so began, before --since
            for trace_id, start, end in times:
                if trace_id in self.settled:
                    continue
                pending = self.pending.get(trace_id)
                if pending is None:
                    pending = self.pending[trace_id] = _Pending(start, end, [])
                    heapq.heappush(self.latest, (-start, trace_id))
                elif start < pending.start_ns:
                    pending.start_ns = start
                    heapq.heappush(self.latest, (-start, trace_id))
                pending.end_ns = max(pending.end_ns, end)
                if not pending.lines or pending.lines[-1] != number:
                    pending.lines.append(number)
                    self.users[number] = self.users.get(number, 0) + 1
            if number not in self.users:
                del self.lines[number]
            self._advance(index)
        yield from self._settle(None)

    def _advance(self, index: int) -> None:
        """Puts the file's next line with spans (of the wanted traces, when some are) on the heap."""
        for raw in self.readers[index]:
            if self.wanted is not None and self.wanted.isdisjoint(_TRACE_IDS.findall(raw)):
                continue  # no span of it can be shown: not worth a closer look
            times = _span_times(raw)
            if self.wanted is not None:
                times = [entry for entry in times if entry[0] in self.wanted]
            if times:
                number = next(self.numbers)
                self.lines[number] = raw
                heapq.heappush(self.heads, (-max(end for _, _, end in times), index, number, times))
                return

    def _settle(self, bound: int | None) -> Iterator[Trace]:
        """The accepted traces among those that began after ``bound`` (all when None), latest first."""
        while self.latest and (bound is None or -self.latest[0][0] > bound):
            negative_start, trace_id = heapq.heappop(self.latest)
            pending = self.pending.get(trace_id)
            if pending is None or pending.start_ns != -negative_start:
                continue  # an older span of it came later: it is further down the heap
            del self.pending[trace_id]
            self.settled.add(trace_id)
            if self.keep.timely(pending.start_ns, pending.end_ns):
                name = trace_id.decode()
                trace = Trace(name, [s for n in pending.lines for s in self._spans(n) if s.trace_id == name])
                if self.keep(trace):
                    yield trace
            for number in pending.lines:
                self.users[number] -= 1
                if not self.users[number]:
                    del self.users[number], self.lines[number]
                    self.parsed.pop(number, None)

    def _spans(self, number: int) -> list[Span]:
        if number not in self.parsed:
            self.parsed[number] = parse_line(self.lines[number])
        return self.parsed[number]


# --- output --------------------------------------------------------------------------------------------


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _time(ns: int) -> str:
    return format_timestamp(datetime.fromtimestamp(ns / 1e9, UTC))


def _node_json(node: Node, trace_start_ns: int) -> dict:
    span = node.span
    return {
        "service": span.service,
        "instance": span.instance,
        "name": span.name,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "parent_missing": node.parent_missing,
        "start_offset_ms": _ms(span.start_ns - trace_start_ns),
        "duration_ms": _ms(span.duration_ns),
        "status": span.status,
        "status_message": span.status_message,
        "attributes": span.attributes(),
        "children": [_node_json(child, trace_start_ns) for child in node.children],
    }


def _summary_json(trace: Trace) -> dict:
    root = trace.root()
    return {
        "trace_id": trace.trace_id,
        "root": {"service": root.span.service, "name": root.span.name, "parent_missing": root.parent_missing},
        "start_time": _time(trace.start_ns),
        "duration_ms": _ms(trace.duration_ns),
        "span_count": len(trace.spans),
        "services": trace.services,
        "error": trace.error,
    }


def trace_json(trace: Trace) -> dict:
    return _summary_json(trace) | {"spans": [_node_json(node, trace.start_ns) for node in trace.tree()]}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _bar(offset_ns: int, duration_ns: int, total_ns: int, width: int) -> str:
    start = min(width - 1, round(offset_ns * width / total_ns))
    stop = max(start + 1, round((offset_ns + duration_ns) * width / total_ns))
    return " " * start + "█" * (stop - start)


def waterfall(trace: Trace, color: bool = False, columns: int = 120) -> list[str]:
    """The trace as rows of text: one span a row, children indented under their parent."""
    rows: list[tuple[int, Node]] = []

    def walk(node: Node, depth: int) -> None:
        rows.append((depth, node))
        for child in node.children:
            walk(child, depth + 1)

    for root in trace.tree():
        walk(root, 0)
    labels = [
        "  " * depth + (f"{_MISSING_PARENT} " if node.parent_missing else "") + node.span.name
        for depth, node in rows
    ]
    statuses = []
    for _, node in rows:
        http = node.span.http_status()
        statuses.append(node.span.status + (f" {http}" if http is not None else ""))
    service_width = min(24, max(len("SERVICE"), *(len(node.span.service) for _, node in rows)))
    label_width = min(60, max(len("SPAN"), *map(len, labels)))
    status_width = max(len("STATUS"), *map(len, statuses))
    fixed = service_width + label_width + status_width + 2 * 9 + 5 * 2
    bar_width = max(10, min(60, columns - fixed))
    total = max(trace.duration_ns, 1)
    lines = [
        f"trace {trace.trace_id}  {_time(trace.start_ns)}  {_ms(trace.duration_ns):.1f} ms  "
        f"{len(trace.spans)} spans  {', '.join(trace.services)}",
        f"{'SERVICE':<{service_width}}  {'SPAN':<{label_width}}  {'START ms':>9}  {'DUR ms':>9}  "
        f"{'STATUS':<{status_width}}  0 ms {f'{_ms(trace.duration_ns):.1f} ms':>{bar_width - 5}}",
    ]
    for (_, node), label, status in zip(rows, labels, statuses, strict=True):
        span = node.span
        offset = span.start_ns - trace.start_ns
        bar = _bar(offset, span.duration_ns, total, bar_width)
        status_text = f"{status:<{status_width}}"
        if color and span.status == "ERROR":
            status_text, bar = click.style(status_text, fg="red"), click.style(bar, fg="red")
        lines.append(
            f"{_fit(span.service, service_width):<{service_width}}  "
            f"{_fit(label, label_width):<{label_width}}  {_ms(offset):>9.1f}  "
            f"{_ms(span.duration_ns):>9.1f}  {status_text}  {bar}".rstrip()
        )
    if any(node.parent_missing for _, node in rows):
        lines.append(
            f"{_MISSING_PARENT} its parent span is in no trace file: not sampled there, not written yet, "
            "or from a caller that exports no spans"
        )
    return lines


_ROOT_WIDTH = 48  # fixed, so that rows print as the traces are found


LISTING_HEADER = (
    f"{'TRACE ID':<32}  {'START':<24}  {'DUR ms':>9}  {'SPANS':>5}  {'ERROR':<5}  "
    f"{'ROOT':<{_ROOT_WIDTH}}  SERVICES"
)


def listing_row(trace: Trace) -> str:
    """Id, start, duration, span count, error flag, root span (marked when its parent is missing),
    services."""
    root = trace.root()
    text = f"{_MISSING_PARENT + ' ' if root.parent_missing else ''}{root.span.service}: {root.span.name}"
    return (
        f"{trace.trace_id}  {_time(trace.start_ns)}  {_ms(trace.duration_ns):>9.1f}  {len(trace.spans):>5}  "
        f"{'yes' if trace.error else '':<5}  {_fit(text, _ROOT_WIDTH):<{_ROOT_WIDTH}}  "
        f"{', '.join(trace.services)}"
    )


# --- the commands --------------------------------------------------------------------------------------


def _existing_trace_dir() -> Path:
    trace_dir = paths.trace_dir()
    if not trace_dir.is_dir():
        raise click.ClickException(
            f"no traces: {trace_dir} does not exist; run `airscope up` (or set $AIRSCOPE_HOME)"
        )
    return trace_dir


def _trace_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _TRACE_ID.fullmatch(value.lower()):
        raise click.BadParameter(f"{value!r} is not a trace id (32 hex digits, as in the X-Trace-Id header)")
    return value.lower()


def _parse_millis(text: str) -> int:
    """``500ms``, ``1.5s``, ``2m``; a bare number is milliseconds. Nanoseconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 500ms, 1.5s or 2m")
    return round(float(match[1]) * {"ms": 1e6, "s": 1e9, "m": 60e9}[match[2] or "ms"])


def _callback(parse: Callable[[str], object]) -> Callable:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
        try:
            return parse(value) if value is not None else None
        except ValueError as error:
            raise click.BadParameter(str(error)) from None

    return convert


def _print(text: str) -> None:
    try:
        click.echo(text)
    except BrokenPipeError:  # `airscope traces | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _echo_json(document: object) -> None:
    _print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.command("trace")
@click.argument("trace_id", callback=_trace_id)
@click.option("--json", "as_json", is_flag=True, help="Print the spans as a nested tree in JSON.")
def trace_command(trace_id: str, as_json: bool) -> None:
    """One request across services: its spans from every file under var/traces, as a waterfall.

    TRACE_ID is the 32 hex digits of the response's X-Trace-Id header (or a log line's trace_id)."""
    trace_dir = _existing_trace_dir()
    spans = find_spans(trace_dir, trace_id)
    if not spans:
        raise click.ClickException(
            f"trace {trace_id} not found in the {len(trace_files(trace_dir))} span files under {trace_dir}. "
            "Spans are written when a request finishes (in batches, within about 5 s), so retry in a "
            "moment; an unsampled request (OTEL_TRACES_SAMPLER) writes none."
        )
    trace = Trace(trace_id, spans)
    if as_json:
        _echo_json(trace_json(trace))
        return
    _print("\n".join(waterfall(trace, _color(), shutil.get_terminal_size().columns)))


@click.command("traces")
@click.option(
    "-s", "--service", metavar="NAME", help="Only traces with a span from this service (or instance)."
)
@click.option(
    "--min-duration",
    metavar="DURATION",
    callback=_callback(_parse_millis),
    help="Only traces lasting at least this long: 500ms, 1.5s, 2m.",
)
@click.option("--errors", is_flag=True, help="Only traces with a span whose status is ERROR.")
@click.option(
    "--since",
    metavar="AGE|TIME",
    callback=_callback(parse_since),
    help="Only traces begun since: an age (10m, 2h, 1d) or an RFC 3339 time (UTC if no zone).",
)
@click.option(
    "-n",
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="At most N traces; 0 for all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the traces as a JSON array.")
def traces_command(
    service: str | None,
    min_duration: int | None,
    errors: bool,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent traces, newest first: root span, start, duration, span count, services, errors."""
    trace_dir = _existing_trace_dir()
    keep = TraceFilter(
        service=service,
        min_duration_ns=min_duration or 0,
        errors=errors,
        since_ns=round(since.timestamp() * 1e9) if since else None,
    )
    found = itertools.islice(recent_traces(trace_dir, keep), limit or None)
    count = 0
    try:
        if as_json:
            summaries = [_summary_json(trace) for trace in found]
            count = len(summaries)
            _echo_json(summaries)
        else:
            for count, trace in enumerate(found, 1):  # each row as soon as its trace is whole
                if count == 1:
                    click.echo(LISTING_HEADER)
                click.echo(listing_row(trace))
    except BrokenPipeError:  # `airscope traces | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not count:
        click.echo(
            f"no matching trace in the {len(trace_files(trace_dir))} span files under {trace_dir}", err=True
        )
