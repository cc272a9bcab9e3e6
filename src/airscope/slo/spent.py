"""How much of each SLO's error budget an interval spent: a drill, an alert episode, an incident.

Counted from the per-minute counts the SLO budget group records (stack.settings): the bad requests
of every minute-step that holds a moment of [start, end], over the bad requests the SLO period
ending with the last of those steps allows, (1 - objective) x its requests. A request is counted
in the step of the scrape that first saw it, so a caller that wants every request served up to a
time passes that time plus a scrape interval as ``end`` (airscope.local.drills.run does).
"""

from __future__ import annotations

from datetime import datetime

from airscope import units
from airscope.catalog import Catalog
from airscope.promapi import Prometheus
from airscope.slo.budget import counts_range
from airscope.stack import settings

STEP_SECONDS = units.parse_duration(settings.SLO_BUDGET_STEP)
_PERIOD_SECONDS = units.parse_duration(settings.SLO_PERIOD)


def counted_until(prometheus: Prometheus) -> float | None:
    """When the SLO budget group last evaluated (unix seconds; year 1 before its first run), or None
    when Prometheus has no such group (its rules predate error budgets)."""
    for group in prometheus.rules("record"):
        if group["name"] == settings.SLO_BUDGET_GROUP:
            return datetime.fromisoformat(group["lastEvaluation"]).timestamp()
    return None


def steps(start: float, end: float) -> tuple[float, float]:
    """The stamps of the steps that hold a moment of [start, end], as an open interval: a step
    stamped t holds the minute (t - step, t], so those stamped after ``start`` and before ``end`` plus
    a step."""
    return start, end + STEP_SECONDS


def spent(prometheus: Prometheus, catalog: Catalog, start: float, end: float) -> dict[str, dict[str, float]]:
    """{service: {sli: share of the SLO period's budget spent in [start, end]}}: 1.0 is the whole
    budget; only shares above 0, of catalog services."""
    after, before = steps(start, end)
    at = before - 0.001  # a step stamped exactly a step after `end` holds nothing of [start, end]
    requests = prometheus.values_by(
        f"sum by (service) (sum_over_time({settings.slo_step_requests()}[{counts_range(_PERIOD_SECONDS)}]))",
        "service",
        at,
    )
    found: dict[str, dict[str, float]] = {}
    for sli in settings.SLIS:
        bad = prometheus.values_by(
            f"sum by (service) (sum_over_time({settings.slo_step_errors(sli)}[{counts_range(at - after)}]))",
            "service",
            at,
        )
        for service, count in sorted(bad.items()):
            if service not in catalog.services or count <= 0 or requests.get(service, 0) <= 0:
                continue
            allowed = (1 - catalog.services[service].slo.objective(sli)) * requests[service]
            found.setdefault(service, {})[sli] = count / allowed
    return found


def line(found: dict[str, dict[str, float]]) -> str:
    """What ``spent`` found, in a line: ``api-gateway availability 38 %, latency 1.2 %; ...``, most
    spent first; ``none`` when nothing was."""
    if not found:
        return "none"
    worst = sorted(found.items(), key=lambda item: -max(item[1].values()))
    return "; ".join(
        f"{service} " + ", ".join(f"{sli} {_percent(share)}" for sli, share in shares.items())
        for service, shares in worst
    )


def _percent(share: float) -> str:
    """Shares as a reader compares them: 0.25 %, 1.2 %, 38 %, 4200 %; below 0.01 %, "<0.01 %"."""
    value = share * 100
    if value >= 10:
        return f"{value:.0f} %"
    if value >= 1:
        return f"{value:.1f} %"
    return f"{value:.2f} %" if value >= 0.01 else "<0.01 %"
