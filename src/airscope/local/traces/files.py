"""The one reader of the OTLP/JSON span files every service instance writes under ``traces/``
(``<instance id>.jsonl``, see docs/telemetry.md): ``read_spans(path or directory)`` for whoever wants
the spans (commands, benchmarks, tests), and the searching primitives ``airscope trace(s)`` use.

Each line is one export batch, an ExportTraceServiceRequest in OTLP/JSON: ``resourceSpans`` (the
resource names the service) > ``scopeSpans`` > ``spans``. In OTLP/JSON, unlike proto3's own JSON
mapping, trace and span ids are hex strings (not base64; the exporter writes lowercase), nanosecond
times and ``intValue`` are decimal strings, status codes are integers (0 unset, 1 OK, 2 ERROR), and a
root span has no ``parentSpanId``. The exporter writes compact JSON, so every span of a trace holds
the literal ``"traceId":"<id>"``.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from airscope.local import LocalError, paths

# A file's spans are written in the order they end, give or take the threads of one process racing to
# the exporter's queue (and a clock stepping back): how far back a later line may still reach.
ORDER_SLACK_NS = 2_000_000_000
_ENDS = re.compile(rb'"endTimeUnixNano":"?(\d+)')
_STATUS = {1: "OK", 2: "ERROR", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}
# The kit's server spans carry the stable HTTP convention; the httpx instrumentation, by default, the old.
_HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
# OTLP's SpanKind numbers (1 internal, 2 server, 3 client, 4 producer, 5 consumer); JSON may name them.
_KINDS = {f"SPAN_KIND_{name}": number for number, name in enumerate(
    ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
)}  # fmt: skip


@dataclass(slots=True)
class Span:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16
    parent_span_id: str | None  # None: a root
    name: str
    kind: int  # 2 server, 3 client...: OTLP's SpanKind
    service: str  # the resource's service.name
    instance: str | None  # its service.instance.id: api-gateway@2
    start_ns: int
    end_ns: int
    status: str  # OK, ERROR or unset
    status_message: str | None
    raw_attributes: list  # OTLP key/value pairs, decoded only for the spans shown
    resource: dict[str, object]  # the resource's attributes, shared by the spans of one batch
    raw_events: list = field(default_factory=list)  # OTLP span events, decoded only for the spans shown

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def attributes(self) -> dict[str, object]:
        return _attributes(self.raw_attributes)

    def events(self) -> list[dict[str, object]]:
        """The span's events (an exception and its stack trace, mostly), in time order: each its
        ``name``, ``time_ns`` and ``attributes``."""
        found = [
            {
                "name": event.get("name", ""),
                "time_ns": int(event.get("timeUnixNano") or 0),
                "attributes": _attributes(event.get("attributes")),
            }
            for event in self.raw_events
        ]
        return sorted(found, key=lambda event: event["time_ns"])

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


def _span(span: dict, resource: dict[str, object]) -> Span:
    status = span.get("status") or {}
    kind = span.get("kind", 0)
    return Span(
        trace_id=span["traceId"],
        span_id=span["spanId"],
        parent_span_id=span.get("parentSpanId") or None,
        name=span.get("name", ""),
        kind=_KINDS.get(kind, 0) if isinstance(kind, str) else kind,
        service=str(resource.get("service.name", "unknown_service")),
        instance=resource.get("service.instance.id"),  # type: ignore[arg-type]
        start_ns=int(span["startTimeUnixNano"]),
        end_ns=int(span["endTimeUnixNano"]),
        status=_STATUS.get(status.get("code"), "unset"),
        status_message=status.get("message") or None,
        raw_attributes=span.get("attributes") or [],
        resource=resource,
        raw_events=span.get("events") or [],
    )


def parse_line(raw: bytes) -> list[Span]:
    """The spans of one exported line; none when it is not JSON (a process killed in the middle of a
    write leaves half a line, and the next process appends to it)."""
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(request, dict):
        return []
    spans = []
    for resource_spans in request.get("resourceSpans") or ():
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            spans += [_span(span, resource) for span in scope_spans.get("spans") or ()]
    return spans


def parse_lines(data: bytes) -> list[Span]:
    """The spans of the complete lines in ``data`` (what follows its last newline is being written)."""
    return [span for raw in data[: data.rfind(b"\n") + 1].splitlines() if raw for span in parse_line(raw)]


def span_files(trace_dir: Path) -> list[Path]:
    """The span files of a directory, one per service instance, by name."""
    return sorted(trace_dir.glob("*.jsonl"))


def read_spans(path: Path) -> list[Span]:
    """Every span in a span file, or in every span file of a directory (none when it is missing)."""
    files = span_files(path) if path.is_dir() else [path] if path.exists() else []
    return [span for file in files for span in parse_lines(file.read_bytes())]


@dataclass(frozen=True, slots=True)
class Position:
    """How far a span file has been read: its identity (a rotated or replaced file is another), the
    offset after the last complete line read, and the bytes before that offset (a file truncated and
    written again as far has others there)."""

    file_id: tuple[int, int]  # st_dev, st_ino
    offset: int
    tail: bytes = b""


# What a reader coming back for new spans parses at a time: the spans of 1 MiB of lines are a few
# MiB of objects, where an hour's file at once held ~100 MiB in the console for good.
READ_BYTES = 2**20


def spans_after(
    path: Path, position: Position | None, since_ns: int, max_bytes: int = READ_BYTES
) -> tuple[list[Span], Position]:
    """The spans that ended at or after ``since_ns`` in the complete lines of the file past ``position``,
    and the position after them: what a reader that comes back for new spans asks. Without a position,
    or when the file is not the one read then (another inode, shorter than the offset, other bytes
    before it: rotated, replaced, truncated), it is read from its first line that may hold such a span
    (found from the end).

    At most about ``max_bytes`` are read per call (whole lines): the caller asks again from the
    returned position until it stops moving, so an hour of spans is never held at once."""
    with path.open("rb") as file:
        stat = os.fstat(file.fileno())
        file_id = (stat.st_dev, stat.st_ino)
        offset = -1
        if position is not None and position.file_id == file_id and position.offset <= stat.st_size:
            file.seek(position.offset - len(position.tail))
            if file.read(len(position.tail)) == position.tail:
                offset = position.offset
        if offset < 0:
            offset = _first_line_since(file, stat.st_size, since_ns)
        file.seek(offset)
        data = file.read(min(max_bytes, stat.st_size - offset))
        if b"\n" not in data and offset + len(data) < stat.st_size:
            data += file.readline()  # one line longer than max_bytes: read it whole
        complete = data[: data.rfind(b"\n") + 1]
        end = offset + len(complete)
        if len(complete) < _TAIL_BYTES:
            file.seek(max(0, end - _TAIL_BYTES))
            tail = file.read(min(end, _TAIL_BYTES))
        else:
            tail = complete[-_TAIL_BYTES:]
    spans = [span for span in parse_lines(complete) if span.end_ns >= since_ns]
    return spans, Position(file_id, end, tail)


_TAIL_BYTES = 64  # a line's end: span ids and times, different in each line


def _first_line_since(file: BinaryIO, size: int, since_ns: int) -> int:
    """The offset of the first line that may hold a span that ended at or after ``since_ns``: past the
    last line whose spans all ended more than ``ORDER_SLACK_NS`` before it (no earlier line holds one)."""
    if size == 0:
        return 0
    with mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as buf:
        end = buf.rfind(b"\n")
        while end > 0:
            start = buf.rfind(b"\n", 0, end) + 1
            ends = _ENDS.findall(buf[start:end])
            if ends and max(map(int, ends)) < since_ns - ORDER_SLACK_NS:
                return end + 1
            end = start - 1
    return 0


def existing_trace_dir() -> Path:
    """Local mode's span directory; ``LocalError`` saying how to get one when there is none."""
    trace_dir = paths.trace_dir()
    if not trace_dir.is_dir():
        raise LocalError(f"no traces: {trace_dir} does not exist; run `airscope up` (or set $AIRSCOPE_HOME)")
    return trace_dir


@contextmanager
def mapped(path: Path) -> Iterator[mmap.mmap | bytes]:
    """The file's bytes without reading them all: the page cache serves what a search touches."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            yield b""  # mmap refuses empty files
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf


def lines_backward(buf: mmap.mmap | bytes) -> Iterator[bytes]:
    """Complete lines, last first; a line still being written (no newline yet) is left out."""
    end = buf.rfind(b"\n")
    while end > 0:
        start = buf.rfind(b"\n", 0, end) + 1
        if start < end:
            yield buf[start:end]
        end = start - 1


def lines_holding(buf: mmap.mmap | bytes, needle: bytes) -> Iterator[bytes]:
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
    for path in span_files(trace_dir):
        with mapped(path) as buf:
            for raw in lines_holding(buf, needle):
                found.extend(span for span in parse_line(raw) if span.trace_id == trace_id)
    return found
