"""A trace as its spans and their tree, and the filter ``airscope traces`` applies to traces."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from airscope.local import LocalError
from airscope.local.traces.files import Span, find_spans, span_files


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


def load_trace(trace_dir: Path, trace_id: str) -> Trace:
    """The trace with all its spans found under ``trace_dir``; ``LocalError`` when none is there yet."""
    spans = find_spans(trace_dir, trace_id)
    if not spans:
        raise LocalError(
            f"trace {trace_id} not found in the {len(span_files(trace_dir))} span files under {trace_dir}. "
            "Spans are written when a request finishes (in batches, within about 5 s), so retry in a "
            "moment; an unsampled request (OTEL_TRACES_SAMPLER) writes none."
        )
    return Trace(trace_id, spans)


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
