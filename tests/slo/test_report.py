"""airscope.slo.report against a real Prometheus holding November 2026's counts and ALERTS: which
episodes a month has (alerts that spend budget, drills), to the minute, what each spent, and the
report as Markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airscope import catalog
from airscope.promapi import Prometheus
from airscope.slo.report import Episode, alert_episodes, month_report
from airscope.slo.spent import spent
from tests.slo.history import History, serving

MINUTE = 60.0


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 11) -> float:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC).timestamp()


# Counts for Nov 10 and 11: stamped each minute, each covering the minute before its stamp.
STAMPS = [at(10) + MINUTE * k for k in range(1, 2 * 1440 + 1)]
DRILLS = [
    Episode("drill", "mcp-slow", None, at(11, 7, 59), at(11, 8, 11)),
    Episode("drill", "over-the-month-start", None, at(31, 23, 50, month=10), at(1, 0, 10)),
    Episode("drill", "in-october", None, at(20, month=10), at(20, 0, 10, month=10)),
]


def firing(name: str, service: str, start: float, end: float, state: str = "firing") -> tuple[dict, list]:
    """An ALERTS series sampled every 30 s from ``start`` to ``end``, as the rule evaluations write it."""
    labels = {"alertname": name, "alertstate": state, "service": service, "severity": "critical"}
    return labels, [(start + 30 * k, 1) for k in range(int((end - start) // 30) + 1)]


def history() -> History:
    """api-gateway: 100 requests a minute, 50 of them failing Nov 10 10:00-10:20. mcp-server: 10 a
    minute, 5 of them slow Nov 11 08:00-08:10. The alerts those fire, one more across the first two
    parts of the month's range queries, and alerts the report must leave out."""
    found = History()
    gateway, mcp = {"service": "api-gateway"}, {"service": "mcp-server"}
    found.add("service:slo_requests:increase1m", gateway, [(t, 100) for t in STAMPS])
    found.add(
        "service:slo_availability_errors:increase1m",
        gateway,
        [(t, 50 if at(10, 10) < t <= at(10, 10, 20) else 0) for t in STAMPS],
    )
    found.add("service:slo_latency_errors:increase1m", gateway, [(t, 0) for t in STAMPS])
    found.add("service:slo_requests:increase1m", mcp, [(t, 10) for t in STAMPS])
    found.add("service:slo_availability_errors:increase1m", mcp, [(t, 0) for t in STAMPS])
    found.add(
        "service:slo_latency_errors:increase1m",
        mcp,
        [(t, 5 if at(11, 8) < t <= at(11, 8, 10) else 0) for t in STAMPS],
    )
    for labels, points in (
        firing("HighErrorRate", "api-gateway", at(10, 10, 2), at(10, 10, 21)),
        firing("ErrorBudgetBurn", "api-gateway", at(10, 10, 3), at(10, 10, 22)),
        firing("HighLatency", "mcp-server", at(11, 8, 1), at(11, 8, 12)),
        # Nov 8 15:20 is the last minute of the first range query (11 000 points from Nov 1 00:01).
        firing("HighLatency", "api-gateway", at(8, 15), at(8, 15, 40)),
        firing("ErrorBudgetBurn", "api-gateway", at(12, 9), at(12, 9, 30), state="pending"),
        firing("DiskSpaceLow", "api-gateway", at(10, 10), at(10, 11)),
    ):
        found.add("ALERTS", labels, points)
    return found


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    with serving(history(), tmp_path_factory.mktemp("slo-report")) as served:
        yield served


def test_the_alert_episodes_to_the_minute(prometheus):
    found = alert_episodes(prometheus, at(1), at(1, month=12))
    # A step holding a firing sample is firing: the first sample's step began a minute before it.
    assert found == [
        Episode("alert", "ErrorBudgetBurn", "api-gateway", at(10, 10, 2), at(10, 10, 22)),
        Episode("alert", "HighErrorRate", "api-gateway", at(10, 10, 1), at(10, 10, 21)),
        Episode("alert", "HighLatency", "api-gateway", at(8, 14, 59), at(8, 15, 40)),
        Episode("alert", "HighLatency", "mcp-server", at(11, 8), at(11, 8, 12)),
    ]
    assert alert_episodes(prometheus, at(1), at(1, month=12), service="mcp-server") == found[3:]
    # Up to a time: the episodes so far.
    assert alert_episodes(prometheus, at(1), at(10, 10, 10)) == [
        Episode("alert", "ErrorBudgetBurn", "api-gateway", at(10, 10, 2), at(10, 10, 10)),
        Episode("alert", "HighErrorRate", "api-gateway", at(10, 10, 1), at(10, 10, 10)),
        Episode("alert", "HighLatency", "api-gateway", at(8, 14, 59), at(8, 15, 40)),
    ]


def test_the_month_with_what_each_episode_spent(prometheus):
    cat = catalog.load()
    report = month_report(prometheus, cat, "2026-11", drills=DRILLS)
    assert (report.start, report.end, report.complete) == (at(1), at(1, month=12), True)
    assert [(s.episode.kind, s.episode.name, s.episode.start, s.episode.end) for s in report.spendings] == [
        ("drill", "over-the-month-start", at(1), at(1, 0, 10)),  # cut to the month
        ("alert", "HighLatency", at(8, 14, 59), at(8, 15, 40)),
        ("alert", "HighErrorRate", at(10, 10, 1), at(10, 10, 21)),
        ("alert", "ErrorBudgetBurn", at(10, 10, 2), at(10, 10, 22)),
        ("drill", "mcp-slow", at(11, 7, 59), at(11, 8, 11)),
        ("alert", "HighLatency", at(11, 8), at(11, 8, 12)),
    ]
    for spending in report.spendings:
        assert spending.spent == spent(prometheus, cat, spending.episode.start, spending.episode.end)
    assert report.spendings[0].spent == {} and report.spendings[1].spent == {}  # no bad request then
    assert set(report.spendings[2].spent) == {"api-gateway"}
    assert report.spendings[4].spent["mcp-server"]["latency"] > 0

    gateway = next(b for b in report.budgets if (b.service, b.sli) == ("api-gateway", "availability"))
    assert gateway.remaining == pytest.approx(1 - 1000 / (0.005 * 100 * 2880)) and gateway.compliant
    # The two alerts of the one incident, the one that spent most first.
    spenders = report.spent_on(gateway)
    assert {s.episode.name for s, _ in spenders} == {"HighErrorRate", "ErrorBudgetBurn"}
    assert spenders[0][1] >= spenders[1][1] > 0
    mcp = next(b for b in report.budgets if (b.service, b.sli) == ("mcp-server", "latency"))
    # The same 50 slow requests; the drill ended a minute sooner, over a minute's fewer requests.
    assert [s.episode.name for s, _ in report.spent_on(mcp)] == ["mcp-slow", "HighLatency"]


def test_one_service(prometheus):
    report = month_report(prometheus, catalog.load(), "2026-11", service="mcp-server", drills=DRILLS)
    assert {b.service for b in report.budgets} == {"mcp-server"}
    assert [(s.episode.name, set(s.spent)) for s in report.spendings] == [
        ("over-the-month-start", set()),
        ("mcp-slow", {"mcp-server"}),
        ("HighLatency", {"mcp-server"}),
    ]


def test_markdown(prometheus):
    report = month_report(prometheus, catalog.load(), "2026-11", drills=DRILLS)
    text = report.markdown()
    assert text.startswith(
        "# SLO report 2026-11\n\nFrom 2026-11-01 00:00 to 2026-12-01 00:00 UTC. 4 of 4 SLOs with requests "
        "met their objective over the month.\n"
    )
    spenders = report.spent_on(report.budgets[0])
    first = spenders[0][0].episode.name
    assert (
        f"| api-gateway | availability | 99.5% | 99.653% | yes | 30.56% | 1,000 | 288,000 | {first} 10 Nov 10:0"
        in text
    )
    assert "| frontend | latency | 99% | - | no data | - | 0 | 0 | - |" in text
    assert "| alert | HighLatency | api-gateway | 2026-11-08 14:59 | 41m | none |" in text
    assert "| drill | mcp-slow | - | 2026-11-11 07:59 | 12m | mcp-server latency " in text


def test_json(prometheus):
    report = month_report(prometheus, catalog.load(), "2026-11", drills=DRILLS)
    found = json.loads(json.dumps(report.as_json()))
    assert (found["month"], found["complete"]) == ("2026-11", True)
    gateway = found["slos"][0]
    assert (gateway["service"], gateway["sli"], gateway["compliant"]) == ("api-gateway", "availability", True)
    assert {e["name"] for e in gateway["spent_by"]} == {"HighErrorRate", "ErrorBudgetBurn"}
    assert [e["name"] for e in found["episodes"]][:2] == ["over-the-month-start", "HighLatency"]


def test_the_current_month_so_far(prometheus):
    report = month_report(prometheus, catalog.load(), "2026-11", now=at(10, 12))
    assert (report.end, report.complete) == (at(10, 12), False)
    assert "to 2026-11-10 12:00 UTC, so far." in report.markdown()
    assert [s.episode.name for s in report.spendings] == ["HighLatency", "HighErrorRate", "ErrorBudgetBurn"]
