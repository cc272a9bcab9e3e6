"""How much one tool call may read and return: an assistant's context is small and a telemetry
backend is shared, so every answer is bounded and a call that would exceed a bound is refused with
what to narrow, not cut silently."""

from __future__ import annotations

MAX_INSTANT_SERIES = 100
MAX_RANGE_SERIES = 50
MAX_POINTS = 500  # per series of a range query; Prometheus' own ceiling is 11,000
MAX_QUERY_CHARS = 4000
MAX_LOG_LINES = 500
MAX_LINE_CHARS = 2000  # a longer line is cut, and says so
MAX_TRACES = 50
MAX_SPANS = 1000  # a trace with more is cut, and says so
MAX_RUNBOOK_CHARS = 3000  # the first checks an alert carries; the whole runbook is a resource
CALL_TIMEOUT_SECONDS = 10.0  # per backend request; a tool makes a few at most
