"""One Prometheus target of a panel, run the way Grafana's Prometheus data source runs it, as a Frame.

- A range target (the default) is a ``query_range`` from ``from`` to ``to``, both rounded down to a
  multiple of the step (Grafana aligns them so that a refresh asks for the same points); its frame is
  ``series``, each named by the target's ``legendFormat`` (``{{label}}`` replaced; an unknown label is
  empty) or, without one, ``metric{label="value", ...}`` as Grafana names it.
- An instant target (``instant: true``) is a ``query`` at ``to`` exactly (Grafana does not align it): a
  ``series`` frame whose series hold one point each, or a ``table`` frame with ``format: table``
  (columns ``Time``, the labels sorted, ``Value``).
- ``format: heatmap`` turns cumulative ``le`` buckets into per-bucket counts, in bucket order.
- ``exemplar: true`` adds the exemplars of the range (``/api/v1/query_exemplars``), thinned to the
  largest per step and series, so that a busy histogram does not cover the chart with dots.

Values: Prometheus' NaN is ``null``; +Inf and -Inf are the strings ``"Infinity"`` and ``"-Infinity"``
(JSON has no infinities; JavaScript's ``Number()`` reads those two strings back).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from airscope.console.interpolate import Intervals
from airscope.console.timerange import TimeRange
from airscope.promapi import Exemplar, PromAPIError, Prometheus, Series

_LEGEND = re.compile(r"\{\{\s*(.+?)\s*\}\}")
TRACE_ID_LABELS = ("trace_id", "traceID", "traceId")
MAX_EXEMPLARS = 2000  # a bound on one frame's exemplars whatever the range and step


def json_number(value: float | None) -> float | str | None:
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_name(labels: Mapping[str, str]) -> str:
    """Grafana's name of a series without a legend: ``name{a="1", b="2"}``, ``{}`` when it has nothing."""
    name = labels.get("__name__", "")
    rest = sorted(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    if not rest:
        return name or "{}"
    return f"{name}{{{', '.join(rest)}}}"


def legend(legend_format: str | None, labels: Mapping[str, str], expr: str) -> str:
    """The series' display name, by Grafana's rules (``__auto`` and an empty format name it by labels)."""
    if legend_format and legend_format != "__auto":
        name = _LEGEND.sub(lambda m: labels.get(m.group(1), ""), legend_format)
    else:
        name = metric_name(labels)
    return expr if name == "{}" else name


def is_instant(target: Mapping[str, Any]) -> bool:
    return bool(target.get("instant")) and not target.get("range")


def aligned(time_range: TimeRange, step_ms: int) -> tuple[float, float]:
    """Start and end in seconds, each rounded down to a multiple of the step (Grafana's AlignTimeRange)."""
    start = math.floor(time_range.from_ms / step_ms) * step_ms
    end = math.floor(time_range.to_ms / step_ms) * step_ms
    return start / 1000, max(end, start) / 1000


def run(
    prometheus: Prometheus,
    target: Mapping[str, Any],
    expr: str,
    time_range: TimeRange,
    intervals: Intervals,
) -> dict[str, Any]:
    """The target's Frame, for ``expr`` (already interpolated). ``PromAPIError`` propagates: the caller
    decides between an error frame (a dashboard) and an HTTP status (Explore)."""
    fmt = target.get("format") or "time_series"
    legend_format = target.get("legendFormat")
    if is_instant(target):
        at = time_range.to_ms / 1000
        samples = prometheus.query(expr, at)
        if fmt == "table":
            return table_frame(
                [(s.labels, s.time, s.value) for s in samples], expr, value_column=target.get("valueColumn")
            )
        series = [
            {
                "name": legend(legend_format, s.labels, expr),
                "labels": dict(s.labels),
                "points": [[round(s.time * 1000), json_number(s.value)]],
            }
            for s in samples
        ]
        return {
            "kind": "series",
            "series": series,
            "exemplars": [],
            "expr": expr,
            "step": None,
            "instant": True,
        }
    start, end = aligned(time_range, intervals.step_ms)
    result = prometheus.query_range(expr, start, end, intervals.step_seconds)
    if fmt == "table":
        rows = [(s.labels, t, v) for s in result for t, v in s.points]
        return table_frame(rows, expr)
    if fmt == "heatmap":
        result = heatmap_buckets(result)
    frame: dict[str, Any] = {
        "kind": "series",
        "series": [series_out(s, legend_format, expr) for s in result],
        "exemplars": [],
        "expr": expr,
        "step": intervals.step_seconds,
    }
    if fmt == "heatmap":
        frame["format"] = "heatmap"
    if target.get("exemplar"):
        try:
            found = prometheus.query_exemplars(expr, start, end)
        except PromAPIError as exc:
            # The series are right without them: say why the dots are missing instead of failing the panel.
            frame["notice"] = f"no exemplars: {exc}"
        else:
            frame["exemplars"] = exemplars_out(found, intervals.step_ms)
    return frame


def series_out(series: Series, legend_format: str | None, expr: str) -> dict[str, Any]:
    return {
        "name": legend(legend_format, series.labels, expr),
        "labels": dict(series.labels),
        "points": [[round(t * 1000), json_number(v)] for t, v in series.points],
    }


def table_frame(
    rows: Sequence[tuple[Mapping[str, str], float, float | None]], expr: str, value_column: str | None = None
) -> dict[str, Any]:
    """Grafana's table of Prometheus samples: ``Time``, ``__name__`` first then the labels sorted, ``Value``."""
    names = sorted({k for labels, _, _ in rows for k in labels}, key=lambda k: (k != "__name__", k))
    out = [
        [round(t * 1000), *(labels.get(k, "") for k in names), json_number(v)]
        for labels, t, v in sorted(rows, key=lambda r: (tuple(r[0].get(k, "") for k in names), r[1]))
    ]
    return {"kind": "table", "columns": ["Time", *names, value_column or "Value"], "rows": out, "expr": expr}


def _le(series: Series) -> float:
    try:
        return float(series.labels.get("le", "+Inf"))
    except ValueError:
        return math.inf


def heatmap_buckets(result: Sequence[Series]) -> list[Series]:
    """Grafana's ``format: heatmap``: buckets sorted by ``le``, each point less the bucket below it, so
    that a cell is the count inside its bucket, not at or below its bound."""
    ordered = sorted(result, key=_le)
    out: list[Series] = []
    below: dict[float, float | None] = {}
    for series in ordered:
        points = []
        for t, v in series.points:
            previous = below.get(t)
            points.append((t, None if v is None else v - (previous or 0.0)))
            below[t] = v if v is not None else previous
        out.append(Series(series.labels, points))
    return out


def trace_id(exemplar: Exemplar) -> str | None:
    return next((exemplar.labels[k] for k in TRACE_ID_LABELS if exemplar.labels.get(k)), None)


def exemplars_out(found: Sequence[Exemplar], step_ms: int) -> list[dict[str, Any]]:
    """The exemplars with a trace id, the largest of each series in each step (Grafana thins them too)."""
    kept: dict[tuple[tuple[tuple[str, str], ...], int], Exemplar] = {}
    for exemplar in found:
        if trace_id(exemplar) is None or exemplar.value is None:
            continue
        key = (tuple(sorted(exemplar.series_labels.items())), int(exemplar.time * 1000 // step_ms))
        if key not in kept or (kept[key].value or 0) < exemplar.value:
            kept[key] = exemplar
    chosen = sorted(kept.values(), key=lambda e: e.time)[-MAX_EXEMPLARS:]
    return [
        {
            "ms": round(e.time * 1000),
            "value": json_number(e.value),
            "traceId": trace_id(e),
            "labels": {**e.series_labels, **e.labels},
        }
        for e in chosen
    ]
