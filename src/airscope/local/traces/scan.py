"""``airscope traces``: the newest traces that pass a filter, each whole, read from the span files'
ends without parsing more than the traces shown.

``traces`` reads the files from their end, takes only the ids and times of the spans from each line
(regular expressions, no parsing), parses the lines of the traces it shows, and stops once it has the
newest ones whole; --errors and --service first search for a literal (``"code":2``, the service's
name) to learn which trace ids can match at all.
"""

from __future__ import annotations

import heapq
import itertools
import mmap
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from airscope.local.traces.files import (
    ORDER_SLACK_NS,
    Span,
    lines_backward,
    lines_holding,
    mapped,
    parse_line,
    span_files,
)
from airscope.local.traces.model import Trace, TraceFilter

_TRACE_IDS = re.compile(rb'"traceId":"([0-9a-f]{32})"')
_STARTS = re.compile(rb'"startTimeUnixNano":"?(\d+)')
_ENDS = re.compile(rb'"endTimeUnixNano":"?(\d+)')
_ERROR_LITERALS = (b'"code":2', b'"STATUS_CODE_ERROR"')  # a status's: no other OTLP/JSON key is "code"


def recent_traces(trace_dir: Path, keep: TraceFilter) -> Iterator[Trace]:
    """The traces that ``keep`` accepts, newest first, each with all its spans; stop when you have enough."""
    with ExitStack() as stack:
        buffers = [stack.enter_context(mapped(path)) for path in span_files(trace_dir)]
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
            for raw in lines_holding(buf, needle)
            for span in parse_line(raw)
            if span.status == "ERROR"
        }
    if keep.service:
        # The service's lines name it in their resource: more ids than needed, which keep sorts out.
        needle = f'"stringValue":"{keep.service}"'.encode()
        ids = {
            trace_id
            for buf in buffers
            for raw in lines_holding(buf, needle)
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
        self.readers = [lines_backward(buf) for buf in buffers]
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
            bound = -negative_horizon + ORDER_SLACK_NS
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
