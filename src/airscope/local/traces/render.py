"""How ``airscope trace`` and ``airscope traces`` print: a trace as a waterfall or a JSON tree, a list
of traces as a table or a JSON array."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from airscope import tables
from airscope.local.logs import format_timestamp
from airscope.local.traces.model import Node, Trace

_MISSING_PARENT = "?"
_ROOT_WIDTH = 48
_UNCUT = sys.maxsize  # cells are cut to fit here, not by the table writer: it would cut bars and ids


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _time(ns: int) -> str:
    return format_timestamp(datetime.fromtimestamp(ns / 1e9, UTC))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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


def summary_json(trace: Trace) -> dict:
    """One trace of ``airscope traces --json``."""
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
    """``airscope trace --json``: the summary and the spans as a nested tree."""
    return summary_json(trace) | {"spans": [_node_json(node, trace.start_ns) for node in trace.tree()]}


def _bar(offset_ns: int, duration_ns: int, total_ns: int, width: int) -> str:
    start = min(width - 1, round(offset_ns * width / total_ns))
    stop = max(start + 1, round((offset_ns + duration_ns) * width / total_ns))
    return " " * start + "█" * (stop - start)


def _rows(trace: Trace) -> list[tuple[int, Node]]:
    """(depth, span) in tree order: each span followed by its children."""
    rows: list[tuple[int, Node]] = []

    def walk(node: Node, depth: int) -> None:
        rows.append((depth, node))
        for child in node.children:
            walk(child, depth + 1)

    for root in trace.tree():
        walk(root, 0)
    return rows


def waterfall(trace: Trace, columns: int = 120, error_style: Callable[[str], str] | None = None) -> list[str]:
    """The trace as rows of text: one span a row, children indented under their parent, a bar each on
    one time scale; ``error_style`` (e.g. red) marks the rows of failed spans."""
    rows = _rows(trace)
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
    cells = [
        [
            _fit(node.span.service, service_width),
            _fit(label, label_width),
            f"{_ms(node.span.start_ns - trace.start_ns):.1f}",
            f"{_ms(node.span.duration_ns):.1f}",
            status,
        ]
        for (_, node), label, status in zip(rows, labels, statuses, strict=True)
    ]
    header = ["SERVICE", "SPAN", "START ms", "DUR ms", "STATUS"]
    fixed = sum(max(len(row[i]) for row in [header, *cells]) for i in range(len(header))) + 2 * len(header)
    bar_width = max(10, min(60, columns - fixed))
    total = max(trace.duration_ns, 1)
    header.append(f"0 ms {f'{_ms(trace.duration_ns):.1f} ms':>{bar_width - 5}}")
    for row, (_, node) in zip(cells, rows, strict=True):
        row.append(_bar(node.span.start_ns - trace.start_ns, node.span.duration_ns, total, bar_width))
    table = tables.text(header, cells, align="llrrll", width=_UNCUT).splitlines()
    if error_style is not None:
        table[1:] = [
            error_style(line) if node.span.status == "ERROR" else line
            for line, (_, node) in zip(table[1:], rows, strict=True)
        ]
    lines = [
        f"trace {trace.trace_id}  {_time(trace.start_ns)}  {_ms(trace.duration_ns):.1f} ms  "
        f"{len(trace.spans)} spans  {', '.join(trace.services)}",
        *table,
    ]
    if any(node.parent_missing for _, node in rows):
        lines.append(
            f"{_MISSING_PARENT} its parent span is in no trace file: not sampled there, not written yet, "
            "or from a caller that exports no spans"
        )
    return lines


def listing(traces: Iterable[Trace]) -> str:
    """A table of traces: id, start, duration, span count, error flag, root span (marked when its parent
    is missing), services. Ids are never cut: ``airscope trace`` takes them."""
    rows = []
    for trace in traces:
        root = trace.root()
        text = f"{_MISSING_PARENT + ' ' if root.parent_missing else ''}{root.span.service}: {root.span.name}"
        rows.append(
            [
                trace.trace_id,
                _time(trace.start_ns),
                f"{_ms(trace.duration_ns):.1f}",
                len(trace.spans),
                "yes" if trace.error else "",
                _fit(text, _ROOT_WIDTH),
                ", ".join(trace.services),
            ]
        )
    header = ["TRACE ID", "START", "DUR ms", "SPANS", "ERROR", "ROOT", "SERVICES"]
    return tables.text(header, rows, align="llrrlll", width=_UNCUT)
