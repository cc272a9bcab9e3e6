"""What the domain dashboards are made of: a ``Topic`` (one dashboard's rows of panels) and the
panel shapes they repeat.

Gauges that every replica reports alike are read with max(); per-process gauges are summed.
"""

from __future__ import annotations

from dataclasses import dataclass

from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import P95, prom, quantile, rate, series, stat_panel
from airscope.stack.grafana.dashboards.panels import timeseries_panel as graph

P50 = "0.5"
P75 = "0.75"  # Core Web Vitals are judged at the 75th percentile of page loads (web.dev)
HOUR = "1h"  # the window of "in the last hour" counts of rare, serious events


@dataclass(frozen=True)
class Topic:
    uid: str
    title: str
    description: str
    rows: tuple


def quantiles(histogram: str, *matchers: str, by: str = "", legend: str = "", qs=(P50, P95)) -> list:
    prefix = f"{legend} " if legend else ""
    return [prom(quantile(q, histogram, *matchers, by=by), f"{prefix}p{float(q) * 100:g}") for q in qs]


def by_rate(title: str, metric: str, by: str, *matchers: str, unit: str = "ops", **options) -> object:
    """A counter's rate per value of the ``by`` labels, each line named by them."""
    legend = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))
    return graph(title, [prom(rate(metric, *matchers, by=by), legend)], unit=unit, **options)


def wide(title: str, metric: str, by: str) -> object:
    """``by_rate`` stacked across the whole width: a row of its own."""
    return by_rate(title, metric, by, stacked=True, width=panels.WIDTH)


def durations(title: str, histogram: str, by: str, **options) -> object:
    """A histogram's p50 and p95 per value of ``by``, in seconds."""
    return graph(title, quantiles(histogram, by=by, legend=f"{{{{{by}}}}}"), unit="s", **options)


def gauges_by(title: str, metric: str, by: str, combine: str = "max", **options) -> object:
    """A gauge per value of ``by``: ``max`` where replicas report alike, ``sum`` where each reports
    its own share."""
    return graph(title, [prom(f"{combine} by ({by}) ({series(metric)})", f"{{{{{by}}}}}")], **options)


def gauge(title: str, metric: str, **options) -> object:
    """A gauge every replica reports alike, as its latest value."""
    return stat_panel(title, [prom(f"max({series(metric)})", instant=True)], **options)


def recent(metric: str, *matchers: str) -> str:
    return f"sum(increase({series(metric, *matchers)}[{HOUR}]))"


def recent_count(title: str, metric: str, *matchers: str) -> object:
    """How many of a rare, serious event the last hour saw: red from the first."""
    return stat_panel(
        title,
        [prom(recent(metric, *matchers), instant=True)],
        unit="none",
        steps=panels.thresholds((1, "red")),
        width=6,
        height=8,
    )


def pool(metric: str):
    """A connection pool's connections by state (in_use, idle) against its limit (``<metric>_limit``)."""
    return graph(
        "Pool connections",
        [
            prom(f"sum by (state) ({series(metric)})", "{{state}}"),
            prom(f"sum({series(metric + '_limit')})", "limit"),
        ],
    )


def build(topic: Topic):
    board = panels.board(topic.uid, topic.title, topic.description, tags=["business"])
    return panels.with_rows(board, topic.rows)
