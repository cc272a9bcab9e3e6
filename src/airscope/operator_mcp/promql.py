"""PromQL for an assistant, bounded: the query's text, its points (refused before Prometheus is
asked) and its series (counted in the answer) stay under ``limits``, and a refusal says what to
narrow. Prometheus checks the PromQL itself: its parse errors name the position, which is clearer
than any restatement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from airscope.errors import AirscopeError
from airscope.operator_mcp import limits
from airscope.promapi import Prometheus, Sample, Series


class QueryRefused(AirscopeError):
    """A query larger than one call may read or return; the message says the bound and how to narrow."""


@dataclass(frozen=True)
class Window:
    start: float  # unix seconds
    end: float
    step: float

    @property
    def points(self) -> int:
        return math.floor((self.end - self.start) / self.step) + 1


def checked(expr: str) -> str:
    expr = expr.strip()
    if not expr:
        raise QueryRefused('the query is empty: give a PromQL expression, e.g. up{job="services"}')
    if len(expr) > limits.MAX_QUERY_CHARS:
        raise QueryRefused(
            f"the query has {len(expr)} characters, more than the {limits.MAX_QUERY_CHARS} allowed"
        )
    return expr


def window(start: datetime, end: datetime, step: float | None) -> Window:
    """The range from ``start`` to ``end``; without a step, the finest one that keeps every series
    under ``limits.MAX_POINTS`` points (at least a second); with one, refused above that bound."""
    first, last = start.timestamp(), end.timestamp()
    if last <= first:
        raise QueryRefused(
            f"the range ends ({end:%Y-%m-%dT%H:%M:%SZ}) before it starts ({start:%Y-%m-%dT%H:%M:%SZ})"
        )
    if step is None:
        step = max(1.0, math.ceil((last - first) / (limits.MAX_POINTS - 1)))
    if step <= 0:
        raise QueryRefused(f"the step must be positive, not {step}")
    found = Window(first, last, step)
    if found.points > limits.MAX_POINTS:
        raise QueryRefused(
            f"the range asks for {found.points} points per series, more than the {limits.MAX_POINTS} allowed: "
            f"a step of at least {math.ceil((last - first) / (limits.MAX_POINTS - 1))}s, or a shorter range"
        )
    return found


def _too_many(found: int, bound: int) -> QueryRefused:
    return QueryRefused(
        f"the query answers {found} series, more than the {bound} one call returns: aggregate it "
        "(sum by (service) (...), topk(10, ...)) or narrow its selectors"
    )


def instant(prometheus: Prometheus, expr: str, at: float | None = None) -> list[Sample]:
    samples = prometheus.query(checked(expr), at)
    if len(samples) > limits.MAX_INSTANT_SERIES:
        raise _too_many(len(samples), limits.MAX_INSTANT_SERIES)
    return samples


def range_query(prometheus: Prometheus, expr: str, span: Window) -> list[Series]:
    series = prometheus.query_range(checked(expr), span.start, span.end, span.step)
    if len(series) > limits.MAX_RANGE_SERIES:
        raise _too_many(len(series), limits.MAX_RANGE_SERIES)
    return series
