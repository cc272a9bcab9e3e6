"""console.prometheus_query: Grafana's Prometheus targets as frames (legends, alignment, instant and
table targets, heatmap buckets, exemplars, NaN and infinities) against a fake Prometheus API."""

from __future__ import annotations

import httpx
import pytest

from airscope.console import prometheus_query
from airscope.console.interpolate import Intervals
from airscope.console.prometheus_query import heatmap_buckets, legend, metric_name
from airscope.console.timerange import TimeRange
from airscope.promapi import PromAPIError, Prometheus, Series
from tests.console.fake_prometheus import FakePrometheus, matrix, vector

RANGE = TimeRange(1_800_000_003_500, 1_800_003_603_700, "now-1h", "now")
STEP = Intervals(15_000, 15_000, 60_000)


@pytest.fixture
def fake() -> FakePrometheus:
    return FakePrometheus()


@pytest.fixture
def prometheus(fake: FakePrometheus) -> Prometheus:
    return Prometheus("http://prometheus.test", transport=fake.transport)


def test_legend_rules():
    labels = {"__name__": "up", "job": "services", "instance": "a:1"}
    assert legend("{{job}} {{ instance }}", labels, "up") == "services a:1"
    assert legend("{{missing}}x", labels, "up") == "x"
    assert legend("", labels, "up") == 'up{instance="a:1", job="services"}'
    assert legend("__auto", {"route": "/"}, "e") == '{route="/"}'
    assert legend(None, {}, "sum(up)") == "sum(up)"  # nothing to name it by: the expression
    assert metric_name({"__name__": "up"}) == "up"


def test_range_target_aligned_to_the_step_and_named(fake, prometheus):
    expr = "sum by (status) (rate(x[1m]))"
    fake.on(
        "/api/v1/query_range",
        expr,
        matrix(({"status": "200"}, [(1_800_000_000, 1.5), (1_800_000_015, "NaN")])),
    )
    frame = prometheus_query.run(prometheus, {"expr": expr, "legendFormat": "{{status}}"}, expr, RANGE, STEP)
    assert frame == {
        "kind": "series",
        "series": [
            {
                "name": "200",
                "labels": {"status": "200"},
                "points": [[1_800_000_000_000, 1.5], [1_800_000_015_000, None]],
            }
        ],
        "exemplars": [],
        "expr": expr,
        "step": 15.0,
    }
    (params,) = fake.params("/api/v1/query_range")
    # Grafana's AlignTimeRange: both ends down to a multiple of the step.
    assert (float(params["start"]), float(params["end"]), float(params["step"])) == (
        1_800_000_000,
        1_800_003_600,
        15,
    )


def test_instant_target_is_evaluated_at_to_and_keeps_its_legend(fake, prometheus):
    fake.on(
        "/api/v1/query",
        "p95",
        vector(({"service": "a"}, "+Inf"), ({"service": "b"}, 0.25), at=1_800_003_603.7),
    )
    target = {"expr": "p95", "instant": True, "range": False, "legendFormat": "p95 {{service}}"}
    frame = prometheus_query.run(prometheus, target, "p95", RANGE, STEP)
    assert frame["kind"] == "series" and frame["instant"] is True
    assert [(s["name"], s["points"]) for s in frame["series"]] == [
        ("p95 a", [[1_800_003_603_700, "Infinity"]]),
        ("p95 b", [[1_800_003_603_700, 0.25]]),
    ]
    assert fake.params("/api/v1/query")[0]["time"] == "1800003603.7"


def test_table_format(fake, prometheus):
    fake.on(
        "/api/v1/query",
        'ALERTS{alertstate="firing"}',
        vector(
            ({"__name__": "ALERTS", "alertname": "B", "severity": "warning"}, 1),
            ({"__name__": "ALERTS", "alertname": "A", "alertstate": "firing"}, 1),
        ),
    )
    target = {"expr": 'ALERTS{alertstate="firing"}', "format": "table", "instant": True}
    frame = prometheus_query.run(prometheus, target, target["expr"], RANGE, STEP)
    assert frame["kind"] == "table"
    assert frame["columns"] == ["Time", "__name__", "alertname", "alertstate", "severity", "Value"]
    assert frame["rows"] == [
        [1_800_000_000_000, "ALERTS", "A", "firing", "", 1.0],
        [1_800_000_000_000, "ALERTS", "B", "", "warning", 1.0],
    ]


def test_heatmap_buckets_are_made_non_cumulative():
    buckets = [
        Series({"le": "+Inf"}, [(1, 10.0), (2, 12.0)]),
        Series({"le": "0.5"}, [(1, 4.0), (2, None)]),
        Series({"le": "0.1"}, [(1, 1.0), (2, 2.0)]),
    ]
    out = heatmap_buckets(buckets)
    assert [(s.labels["le"], s.points) for s in out] == [
        ("0.1", [(1, 1.0), (2, 2.0)]),
        ("0.5", [(1, 3.0), (2, None)]),
        ("+Inf", [(1, 6.0), (2, 10.0)]),
    ]


def test_heatmap_target(fake, prometheus):
    expr = "sum by (le) (rate(b[1m]))"
    fake.on(
        "/api/v1/query_range",
        expr,
        matrix(({"le": "+Inf"}, [(1_800_000_000, 3)]), ({"le": "1"}, [(1_800_000_000, 1)])),
    )
    frame = prometheus_query.run(
        prometheus, {"expr": expr, "format": "heatmap", "legendFormat": "{{le}}"}, expr, RANGE, STEP
    )
    assert frame["format"] == "heatmap"
    assert [(s["name"], s["points"][0][1]) for s in frame["series"]] == [("1", 1.0), ("+Inf", 2.0)]


def test_exemplars_thinned_to_the_largest_per_step_and_series(fake, prometheus):
    expr = "histogram_quantile(0.95, x)"
    fake.on("/api/v1/query_range", expr, matrix(({}, [(1_800_000_000, 0.2)])))
    series = {"__name__": "x_bucket", "le": "0.5"}
    fake.on(
        "/api/v1/query_exemplars",
        expr,
        [
            {
                "seriesLabels": series,
                "exemplars": [
                    {"labels": {"trace_id": "aa"}, "value": "0.1", "timestamp": 1_800_000_001.0},
                    {"labels": {"trace_id": "bb"}, "value": "0.4", "timestamp": 1_800_000_002.0},
                    {"labels": {"trace_id": "cc"}, "value": "0.3", "timestamp": 1_800_000_020.5},
                    {"labels": {"other": "x"}, "value": "9", "timestamp": 1_800_000_021.0},
                ],
            }
        ],
    )
    frame = prometheus_query.run(prometheus, {"expr": expr, "exemplar": True}, expr, RANGE, STEP)
    assert frame["exemplars"] == [
        {"ms": 1_800_000_002_000, "value": 0.4, "traceId": "bb", "labels": {**series, "trace_id": "bb"}},
        {"ms": 1_800_000_020_500, "value": 0.3, "traceId": "cc", "labels": {**series, "trace_id": "cc"}},
    ]


def test_exemplar_failure_is_a_notice(prometheus, fake):
    """The series are right without the exemplars: the frame says why the dots are missing."""
    expr = "h"
    fake.on("/api/v1/query_range", expr, matrix(({}, [(1_800_000_000, 1)])))

    original = fake._handle

    def handle(request):
        if request.url.path == "/api/v1/query_exemplars":
            return httpx.Response(503, text="exemplars unavailable")
        return original(request)

    fake.transport.handler = handle
    frame = prometheus_query.run(prometheus, {"expr": expr, "exemplar": True}, expr, RANGE, STEP)
    assert frame["series"] and frame["exemplars"] == []
    assert "no exemplars" in frame["notice"] and "exemplars unavailable" in frame["notice"]


def test_a_refused_query_keeps_prometheus_words(fake, prometheus):
    fake.refuse("sum(", "1:5: parse error: unclosed left parenthesis")
    with pytest.raises(PromAPIError) as caught:
        prometheus_query.run(prometheus, {"expr": "sum("}, "sum(", RANGE, STEP)
    assert caught.value.refused_query and caught.value.detail == "1:5: parse error: unclosed left parenthesis"
