"""`airscope check --live`'s parts that need no platform: which queries the dashboards make, and how
counts and latencies are compared. The whole check runs against the local platform in tests/e2e."""

from __future__ import annotations

from collections import Counter

import pytest

from airscope import catalog
from airscope.stack.checks import live


def test_every_prometheus_panel_query_is_expanded_for_each_service_and_grafanas_own_variables(deployed):
    queries = live.panel_queries(deployed)
    services = list(catalog.load().services)
    per_service = [q for q in queries if q.dashboard == "airscope / Service" and q.panel == "Up"]
    assert sorted(dict(q.variables)["service"] for q in per_service) == sorted(services)
    assert all("$" not in q.expr for q in queries), [q.expr for q in queries if "$" in q.expr][:3]
    assert not [q for q in queries if q.dashboard == "airscope / Logs"], "Loki panels are not Prometheus'"


@pytest.mark.parametrize(("seconds", "index"), [(0.004, 0), (0.005, 0), (0.0051, 1), (1.0, 9), (31.0, 15)])
def test_bucket_index(seconds, index):
    assert live.bucket_index(seconds) == index


class FakePrometheus:
    """Answers the two instant queries of count_mismatches from fixed counters (unit test only)."""

    def __init__(self, before: dict, after: dict) -> None:
        self.answers = {1.0: before, 2.0: after}

    def instant(self, expr: str, at: float) -> list[dict]:
        return [
            {"metric": {"method": m, "route": r, "status": str(s)}, "value": [at, str(v)]}
            for (m, r, s), v in self.answers[at].items()
        ]


def test_counts_must_match_exactly_per_route_and_status_and_other_routes_are_ignored():
    before = {("POST", "/api/chat", 200): 10, ("GET", "/health/live", 200): 500}
    after = {("POST", "/api/chat", 200): 40, ("POST", "/api/chat", 502): 1, ("GET", "/health/live", 200): 900}
    prometheus = FakePrometheus(before, after)
    assert (
        live.count_mismatches(
            prometheus, {("POST", "/api/chat", 200): 30, ("POST", "/api/chat", 502): 1}, 1.0, 2.0, "g"
        )
        == []
    )
    problems = live.count_mismatches(prometheus, Counter({("POST", "/api/chat", 200): 31}), 1.0, 2.0, "g")
    assert problems == [
        "POST /api/chat 200: the client sent 31, Prometheus counted 30",
        "POST /api/chat 502: the client sent 0, Prometheus counted 1",
    ]
