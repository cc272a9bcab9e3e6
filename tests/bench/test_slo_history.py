"""`airscope slo`'s figures against a day of known requests, end to end: the kit's metric as
Prometheus would have scraped it (every service, the probe and the other traps of slo_history
included), the SLO recording rules evaluated over it by promtool as a running Prometheus would, and
airscope.slo reading the result. The truth is counted from the generated requests, not by PromQL.

The history spans a month boundary (noon to noon, Sep 30 - Oct 1, 2026, UTC): an outage that overspends
api-gateway's September, slow answers that overspend mcp-server's October, failures across midnight,
deploys, and a quiet service whose readiness probe fails while its users are served.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airscope import catalog
from airscope.bench import slo_backfill
from airscope.bench.slo_history import Counts, Deploy, History, Incident, Traffic
from airscope.promapi import Prometheus
from airscope.slo.budget import budgets, month_bounds
from airscope.slo.report import month_report
from airscope.stack import settings

# 0.1 percentage point of a budget: what the issue asks `airscope slo` to be right to.
TOLERANCE = 0.001
STEP = 60.0  # the SLO budget group's interval: a count stamped t covers the minute before it


def _at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC).timestamp()


START, OCT_1, END = _at(9, 30, 12), _at(10, 1), _at(10, 1, 12)
MONTHS = ("2026-09", "2026-10")
# Tens of thousands of requests a second beside a quiet service: the counts must be exact at both
# ends, not merely close. saga-orchestrator is quiet and never fails: it shows the probe's failures
# would not count.
TRAFFIC = {
    "api-gateway": Traffic(320_000, failing=0.0005, slow=0.002),
    "frontend": Traffic(320_000, failing=0.0005, slow=0.002),
    "airtable-gateway": Traffic(240_000, failing=0.001, slow=0.01),
    "platform-services": Traffic(160_000, failing=0.001, slow=0.003),
    "llm-orchestrator": Traffic(160_000, failing=0.003, slow=0.01),
    "mcp-server": Traffic(160_000, failing=0.002, slow=0.01),
    "automation-services": Traffic(160_000, failing=0.002, slow=0.01),
    "saga-orchestrator": Traffic(0.5),
}
HISTORY = History(
    START,
    END,
    TRAFFIC,
    incidents=(
        Incident("api-gateway", _at(9, 30, 14), _at(9, 30, 14, 5), failing=1.0, unready=True),
        Incident("platform-services", _at(9, 30, 20), _at(9, 30, 20, 10), slow=0.3),
        Incident("saga-orchestrator", _at(9, 30, 16), _at(9, 30, 16, 45), unready=True),
        Incident("llm-orchestrator", _at(9, 30, 23, 40), _at(10, 1, 0, 20), failing=0.1),
        Incident("airtable-gateway", _at(10, 1, 9), _at(10, 1, 9, 30), failing=0.05),
        Incident("mcp-server", _at(10, 1, 10), _at(10, 1, 10, 40), slow=0.6),
    ),
    deploys=(
        Deploy("llm-orchestrator", _at(9, 30, 13)),
        Deploy("api-gateway", _at(9, 30, 18, 0, 7)),
        Deploy("platform-services", _at(10, 1, 6)),
    ),
)
ROLLING = (END - 30 * 86400, END)
WINDOWS = {"30d": ROLLING} | {month: month_bounds(month) for month in MONTHS}


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Iterator[slo_backfill.Backfilled]:
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("Debian's prometheus and promtool are not installed")
    workdir = tmp_path_factory.mktemp("slo-history")
    with slo_backfill.backfilled(HISTORY, catalog.load(), workdir, read_at=(OCT_1,)) as found:
        yield found


@pytest.fixture(scope="module")
def prometheus(backfilled: slo_backfill.Backfilled) -> Iterator[Prometheus]:
    with Prometheus(backfilled.url, timeout=30) as client:
        yield client


def _slos() -> Iterator[tuple[str, str, float]]:
    for name, service in sorted(catalog.load().services.items()):
        for sli in settings.SLIS:
            yield name, sli, service.slo.objective(sli)


def _counted(backfilled: slo_backfill.Backfilled, service: str, window: tuple[float, float]) -> Counts:
    """The truth over the requests a budget over ``window`` reads: the minute-steps stamped in it, which
    begin up to a minute before the window (a step stamped just after midnight covers the seconds
    before it) and end at the last stamp (the minute under way is not counted yet)."""
    return backfilled.truth.counts(service, *backfilled.counted(*window))


def test_the_history_can_tell_right_counts_from_wrong(backfilled: slo_backfill.Backfilled) -> None:
    """The tolerance means something here: each mistake a rule could make would move some budget by
    far more than it."""

    def moved(service: str, sli: str, wrong_requests: str | None, wrong_bad: str, sign: int = 1) -> float:
        counts = _counted(backfilled, service, ROLLING)
        objective = catalog.load().services[service].slo.objective(sli)
        requests = counts.requests + (counts.found[wrong_requests] if wrong_requests else 0)
        wrong = 1 - (counts.bad(sli) + sign * counts.found[wrong_bad]) / ((1 - objective) * requests)
        return abs(wrong - counts.remaining(sli, objective))

    assert moved("saga-orchestrator", "availability", "probes", "probe_failures") > 100 * TOLERANCE
    for name, _, _ in _slos():
        assert moved(name, "availability", None, "client_errors") > 100 * TOLERANCE  # 404 as failures
        assert moved(name, "latency", None, "near") > 100 * TOLERANCE  # the bucket below the threshold
    assert moved("api-gateway", "availability", None, "gave_up", sign=-1) > 100 * TOLERANCE  # 499 left out


def test_the_budget_left_over_the_rolling_period_is_the_truth(
    backfilled: slo_backfill.Backfilled, prometheus: Prometheus
) -> None:
    found = {(b.service, b.sli): b for b in budgets(prometheus, catalog.load(), at=END)}
    assert len(found) == 2 * len(TRAFFIC)
    for name, sli, objective in _slos():
        budget = found[name, sli]
        truth = _counted(backfilled, name, ROLLING).remaining(sli, objective)
        assert budget.remaining == pytest.approx(truth, abs=TOLERANCE), (name, sli)
        assert budget.compliant == (backfilled.truth.counts(name, *ROLLING).remaining(sli, objective) >= 0)
    # What the history was made to show: the outage overspent api-gateway, the quiet service's
    # failing probe spent nothing.
    assert not found["api-gateway", "availability"].compliant
    assert found["saga-orchestrator", "availability"].remaining == 1.0


def test_the_burn_rates_are_recorded_and_agree_with_the_last_hours(
    backfilled: slo_backfill.Backfilled, prometheus: Prometheus
) -> None:
    for budget in budgets(prometheus, catalog.load(), at=END):
        last_hour = _counted(backfilled, budget.service, (END - 3600, END))
        expected = last_hour.bad(budget.sli) / last_hour.requests / (1 - budget.objective)
        assert budget.burn_rates["1h"] == pytest.approx(expected, rel=0.05, abs=0.01), budget
        assert set(budget.burn_rates) == {"1h", "6h", "3d"} and None not in budget.burn_rates.values()


def test_the_recorded_budget_left_is_the_same_figure(prometheus: Prometheus) -> None:
    """The rule the dashboard reads and airscope.slo.budget's sums agree."""
    found = budgets(prometheus, catalog.load(), at=END)
    for sli in settings.SLIS:
        recorded = prometheus.values_by(settings.slo_budget_remaining(sli), "service", END)
        for budget in (b for b in found if b.sli == sli):
            assert recorded[budget.service] == pytest.approx(budget.remaining, abs=1e-9)


@pytest.mark.parametrize("month", MONTHS)
def test_each_months_compliance_and_budget_left_are_the_truth(
    backfilled: slo_backfill.Backfilled, prometheus: Prometheus, month: str
) -> None:
    report = month_report(prometheus, catalog.load(), month)
    found = {(b.service, b.sli): b for b in report.budgets}
    window = month_bounds(month)
    for name, sli, objective in _slos():
        budget = found[name, sli]
        truth = _counted(backfilled, name, window).remaining(sli, objective)
        assert budget.remaining == pytest.approx(truth, abs=TOLERANCE), (month, name, sli)
        assert budget.compliant == (backfilled.truth.counts(name, *window).remaining(sli, objective) >= 0)
    overspent = {key for key, b in found.items() if not b.compliant}
    assert (
        overspent
        == {"2026-09": {("api-gateway", "availability")}, "2026-10": {("mcp-server", "latency")}}[month]
    )
