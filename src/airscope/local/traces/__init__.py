"""Requests as span trees, read from the OTLP/JSON lines every service instance writes under
``traces/``. ``airscope trace`` and ``airscope traces`` (airscope.cli.traces) are its commands.

- ``files``: THE reader of span files (``read_spans``, ``parse_line``, ``parse_lines``, ``Span``), for
  the commands, the benchmarks and the tests alike, and the searches the commands make in them;
- ``model``: a trace's tree (``Trace``, ``Node``) and ``TraceFilter``;
- ``scan``: ``recent_traces``, the newest traces that pass a filter, each whole;
- ``render``: waterfall, table and JSON.
"""

from airscope.local.traces.files import (
    Span,
    existing_trace_dir,
    find_spans,
    parse_line,
    parse_lines,
    read_spans,
    span_files,
)
from airscope.local.traces.model import Node, Trace, TraceFilter, load_trace
from airscope.local.traces.render import listing, summary_json, trace_json, waterfall
from airscope.local.traces.scan import recent_traces

__all__ = [
    "Node",
    "Span",
    "Trace",
    "TraceFilter",
    "existing_trace_dir",
    "find_spans",
    "listing",
    "load_trace",
    "parse_line",
    "parse_lines",
    "read_spans",
    "recent_traces",
    "span_files",
    "summary_json",
    "trace_json",
    "waterfall",
]
