"""The LogQL the generated dashboards send to Loki, run against the local log files instead.

The subset is what ``airscope gen`` emits and what Grafana's trace-to-logs link adds, no more:

- a stream selector ``{service=~"…", level="…"}`` on the labels Alloy sets that exist locally
  (``service``, ``level``) with ``=``, ``!=``, ``=~``, ``!~`` (regexes anchored, as in Loki);
- line filters ``|= "text"``, ``!= "text"``, ``|~ "regex"``, ``!~ "regex"``;
- ``| json`` and label filters after it (``| trace_id="…"``, ``| logger="access"``; strings only);
- metric queries ``count_over_time(<that> [range])`` and ``rate(…)``, under ``sum`` or
  ``sum by (labels)``.

Anything else answers the "unsupported" frame that says so and why ("production only: needs
Loki"), never an empty result that would pass for data. Local lines carry the labels production's
Loki gives them: a JSON line's ``service`` and ``level`` fields (a plain-text line: its program as
``service``, no ``level``), ``trace_id`` and ``span_id`` as structured metadata, and probe access
lines are left out as Alloy drops them.

Work is bounded: a log query reads newest first through ``LogStore`` (the engine that answers a
search over a million lines within 2 s) and stops at its limit; a metric query reads only the byte
range of each file that the time range covers (found by bisection, lines being in time order) and
refuses ranges holding more than ``window.MAX_WINDOW_BYTES``.

The modules: ``parse`` (the subset's grammar), ``match`` (a line against a query), ``window`` (a
time range's lines from the files), ``streams`` (log queries), ``counts`` (metric queries).
"""

from __future__ import annotations

from pathlib import Path

from airscope.console.logql import counts, streams
from airscope.console.logql.parse import SUBSET, LogQLError, LogQuery, Unsupported, parse
from airscope.console.logql.streams import log_line
from airscope.console.logql.window import TooMuch, ms_key

__all__ = ["log_line", "run"]


def _unsupported(expr: str, what: str) -> dict:
    return {
        "kind": "unsupported",
        "message": f"production only: needs Loki ({what} is outside the local subset: {SUBSET})",
        "query": expr,
    }


def _error(expr: str, message: str) -> dict:
    return {"kind": "error", "message": message, "query": expr}


def run(
    expr: str,
    start_ms: int,
    end_ms: int,
    step_seconds: float,
    log_dir: Path,
    limit: int = 1000,
    legend_format: str | None = None,
) -> dict:
    """One Loki target's frame: "logs" for a log query (the last ``limit`` lines, oldest first),
    "series" for a metric query (one point a step; null where Loki has no sample), "unsupported"
    outside the subset, "error" for a query Loki would refuse too or a range too large to count."""
    start_ms, end_ms = int(start_ms), int(end_ms)
    try:
        query = parse(expr)
    except Unsupported as what:
        return _unsupported(expr, str(what))
    except LogQLError as error:
        return _error(expr, f"LogQL: {error}")
    if end_ms < start_ms:
        return _error(expr, "the time range ends before it starts")
    if not log_dir.is_dir():
        return _error(expr, f"no logs: {log_dir} does not exist; run `make up` (or `airscope up`)")
    try:
        if isinstance(query, LogQuery):
            return streams.frame(query, expr, ms_key(start_ms), ms_key(end_ms), log_dir, limit)
        return counts.frame(query, expr, start_ms, end_ms, step_seconds, log_dir, legend_format)
    except TooMuch as too_much:
        return _error(expr, str(too_much))
