"""Metric queries: lines counted per series and step in one pass over the range's bytes."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from airscope.console.logql.match import Judge, is_probe
from airscope.console.logql.parse import MetricQuery
from airscope.console.logql.window import TooMuch, blocks, candidates, ms_key
from airscope.local.logs.timestamps import key_of_text, key_of_timestamp

MAX_POINTS = 11_000  # Loki's own max_points per series
MAX_SERIES = 500  # Loki's default max_query_series
MAX_BUCKETS = 100_000  # counting buckets (the step and range's common divisor): their bounds cost memory


def _count(query: MetricQuery, log_dir: Path, origin: int, last: int, width: int, size: int) -> dict:
    """Each series' line counts per bucket of ``width`` ms after ``origin``: the one loop over
    every line of the range, kept lean (a label set's verdict and group are worked out once)."""
    loads, JSONDecodeError = orjson.loads, orjson.JSONDecodeError
    judge = Judge(query.logs)
    plain = not (query.logs.line_filters or query.logs.json or query.logs.label_filters)
    verdicts: dict[object, tuple | None] = {}  # stream -> series identity, or None: not matched
    series: dict[tuple, _Counts] = {}
    # Bucket j ends at bounds[j]: a line's bucket is found by bisection on its key, unparsed.
    bounds = [ms_key(origin + j * width) for j in range(size)]
    start, end = ms_key(origin + 1), ms_key(last)
    reading = blocks(log_dir, start, end)
    previous = None
    try:
        while True:
            program, block, previous = reading.send(previous)
            for raw in candidates(block, program, query.logs):
                if not raw:
                    continue
                # _parsed, inlined: this loop runs once a line, a million times for a million lines
                fields = None
                if raw[:1] == b"{":
                    try:
                        fields = loads(raw)
                    except JSONDecodeError:
                        pass
                    else:
                        if type(fields) is not dict:
                            fields = None
                if fields is None:
                    previous = key_of_text(raw) or previous
                else:
                    stamp = fields.get("timestamp")
                    if type(stamp) is str and len(stamp) == 24 and stamp[10] == "T" and stamp[23] == "Z":
                        previous = stamp
                    else:
                        previous = key_of_timestamp(stamp) or previous
                if not start <= previous <= end:
                    continue
                if plain:
                    if fields is None:
                        stream: object = program
                    elif fields.get("logger") == "access" and is_probe(fields):
                        continue
                    else:
                        stream = (fields.get("service"), fields.get("level"))
                    if stream in verdicts:
                        identity = verdicts[stream]
                    else:
                        identity = verdicts[stream] = _identity(judge(program, raw, fields), query, series)
                else:
                    identity = _identity(judge(program, raw, fields), query, series)
                if identity is None:
                    continue
                bucket = bisect_left(bounds, previous)  # keys compare as times do
                if 0 < bucket < size:
                    counts = series[identity]
                    if not counts.buckets:
                        counts.buckets = [0] * size
                    counts.buckets[bucket] += 1
    except StopIteration:
        pass
    return {identity: counts for identity, counts in series.items() if counts.buckets}


def _identity(
    labels: dict[str, str] | None, query: MetricQuery, series: dict[tuple, _Counts]
) -> tuple | None:
    """The series a matched line counts in (registered in ``series``); None for a line not matched."""
    if labels is None:
        return None
    grouped = query.group(labels)
    identity = tuple(sorted(grouped.items()))
    if identity not in series:
        if len(series) >= MAX_SERIES:
            raise TooMuch(f"more than {MAX_SERIES} series (Loki's limit): aggregate with sum by (…)")
        series[identity] = _Counts(grouped)
    return identity


@dataclass
class _Counts:
    labels: dict[str, str]
    buckets: list[int] = field(default_factory=list)


def frame(
    query: MetricQuery,
    expr: str,
    start_ms: int,
    end_ms: int,
    step_seconds: float,
    log_dir: Path,
    legend_format: str | None,
) -> dict:
    """The "series" frame of a metric query: one point a step, null where Loki has no sample;
    ``TooMuch`` past Loki's limits or what the console counts in time."""
    step = max(1, round(step_seconds * 1000))
    window = round(query.range_seconds * 1000)
    first = start_ms // step * step  # steps aligned to multiples of the step, as Grafana asks Loki
    points = (end_ms - first) // step + 1
    if points > MAX_POINTS:
        raise TooMuch(f"{points} points a series, more than Loki's {MAX_POINTS}: use a larger step")
    # Each line falls in one bucket of width g (the greatest common divisor of step and range); a
    # point sums the buckets of its range, so counting is one pass however ranges overlap.
    width = math.gcd(step, window)
    origin = first - window  # bucket j holds lines in (origin + (j-1)·width, origin + j·width]
    size = ((points - 1) * step + window) // width + 1
    if size > MAX_BUCKETS:
        raise TooMuch(
            f"the range [{query.range_seconds:g}s] and step {step_seconds:g}s are too fine to count"
        )
    series = _count(query, log_dir, origin, first + (points - 1) * step, width, size)
    per_second = query.function == "rate"
    out = []
    for counts in series.values():
        prefix = [0]
        for count in counts.buckets:
            prefix.append(prefix[-1] + count)
        values = []
        for k in range(points):
            total = prefix[(k * step + window) // width + 1] - prefix[k * step // width + 1]
            value = total / query.range_seconds if per_second else total
            values.append([first + k * step, value if total else None])
        out.append({"name": _legend(counts.labels, legend_format), "labels": counts.labels, "points": values})
    out.sort(key=lambda s: s["name"])
    return {"kind": "series", "series": out, "exemplars": [], "expr": expr, "step": step / 1000}


def _legend(labels: dict[str, str], legend_format: str | None) -> str:
    """``legendFormat`` with ``{{label}}`` filled in; without one, Grafana's ``{a="x", b="y"}``."""
    if legend_format:
        return re.sub(
            r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: labels.get(m[1], ""), legend_format
        )
    return "{" + ", ".join(f'{name}="{value}"' for name, value in sorted(labels.items())) + "}"
