"""Each SLO's error budget over a window: over the rolling SLO period (30 days) or a calendar month.

A window's figures are counts, summed from the per-minute counts of requests and bad requests the
SLO budget group records (stack.settings says why counts): allowed = (1 - objective) x requests,
budget left = 1 - bad / allowed. "Minutes of full outage" and the time to exhaustion read the
window's traffic as spread evenly over the window, as the SRE workbook's budgets do: the budget of
a 99.5% SLO over 30 days is 0.5% of 43 200 minutes, 216 minutes of everything failing.
"""

from __future__ import annotations

import re
import time
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from airscope import units
from airscope.catalog import Catalog
from airscope.errors import AirscopeError
from airscope.promapi import Prometheus
from airscope.stack import settings

# The burn rates shown: the long windows of the fast page (1h), the slow page (6h) and the ticket
# (3d), so a reader sees the alerts' own figures. The time to exhaustion goes by the 1h one: it says
# what the budget does now, not what it did this week.
BURN_WINDOWS = ("1h", "6h", "3d")
EXHAUSTION_WINDOW = "1h"
_MONTH = re.compile(r"\d{4}-\d{2}")
_STEP_SECONDS = units.parse_duration(settings.SLO_BUDGET_STEP)


class SLOError(AirscopeError):
    """A question about budgets that cannot be answered as asked (an unknown service, a bad month)."""


@dataclass(frozen=True)
class Budget:
    """One SLO's budget over one window, evaluated at ``end``."""

    service: str
    sli: str  # "availability" | "latency"
    objective: float  # the target share of good requests, e.g. 0.995
    reason: str  # the catalog's reason for the target
    window: str  # "30d" (rolling, ending at ``end``) or "2026-11" (a calendar month, UTC)
    start: float  # unix seconds, the window's start
    end: float  # unix seconds, the evaluation time (now, or the month's end)
    requests: float
    bad_requests: float
    sli_value: float | None  # the share of good requests; None: no requests in the window
    remaining: float | None  # share of the budget left: 1 untouched, 0 spent, below 0 overspent
    remaining_requests: float | None  # bad requests still allowed (negative: over by that many)
    remaining_minutes: float | None  # minutes of full outage left, at the window's average traffic
    burn_rates: dict[str, float | None]  # BURN_WINDOWS -> bad share / allowed share (1 = sustainable)
    exhaustion_seconds: (
        float | None
    )  # at the 1h burn rate; 0: spent; None: not burning faster than sustainable
    covered_seconds: float  # how much of the window holds recorded counts

    @property
    def window_seconds(self) -> float:
        return _window_seconds(self.window)

    @property
    def compliant(self) -> bool | None:
        """Whether the SLI met its objective over the window (None: no requests to tell by)."""
        return None if self.remaining is None else self.remaining >= 0

    def as_json(self) -> dict:
        return {**asdict(self), "compliant": self.compliant}


def budgets(
    prometheus: Prometheus, catalog: Catalog, *, service: str | None = None, at: float | None = None
) -> list[Budget]:
    """Every catalog SLO's budget over the rolling SLO period ending now (or at ``at``), worst first."""
    end = time.time() if at is None else at
    return _budgets(
        prometheus, catalog, settings.SLO_PERIOD, end - _window_seconds(settings.SLO_PERIOD), end, service
    )


def month_budgets(
    prometheus: Prometheus,
    catalog: Catalog,
    month: str,
    *,
    service: str | None = None,
    now: float | None = None,
) -> list[Budget]:
    """Every catalog SLO's budget over the calendar month ``YYYY-MM`` (UTC), worst first: up to the
    month's end, or up to now in the current month."""
    now = time.time() if now is None else now
    start, month_end = month_bounds(month)
    if start >= now:
        raise SLOError(f"month {month} has not begun: give this month or an earlier one")
    return _budgets(prometheus, catalog, month, start, min(month_end, now), service)


def month_bounds(month: str) -> tuple[float, float]:
    """The unix seconds at which ``YYYY-MM`` (UTC) begins and ends."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise SLOError(f"{month!r} is not a month: write it YYYY-MM, e.g. 2026-11") from None
    days = monthrange(first.year, first.month)[1]
    return first.timestamp(), first.timestamp() + days * 86400


def _window_seconds(window: str) -> float:
    """A rolling window's length (``30d``), or a whole calendar month's (``2026-11``)."""
    if _MONTH.fullmatch(window):
        start, end = month_bounds(window)
        return end - start
    return units.parse_duration(window)


def counts_range(seconds: float) -> str:
    """A PromQL range of ``seconds`` over the per-minute counts that leaves out a count stamped exactly
    at its start: Prometheus 2 includes both ends of a range, and such a count is the minute before
    the window (two adjacent windows would both count it)."""
    return f"{round(seconds * 1000) - 1}ms"


def _budgets(
    prometheus: Prometheus, catalog: Catalog, window: str, start: float, end: float, service: str | None
) -> list[Budget]:
    services = _services(catalog, service)
    selector = f'{{service="{service}"}}' if service else ""
    span = counts_range(end - start)
    requests_series = settings.slo_step_requests() + selector

    def by_service(expr: str) -> Mapping[str, float]:
        return prometheus.values_by(expr, "service", end)

    requests = by_service(f"sum by (service) (sum_over_time({requests_series}[{span}]))")
    # max, not sum: a Prometheus holding several copies of a service's series (Mimir's clusters)
    # still covers each minute once.
    steps = by_service(f"max by (service) (count_over_time({requests_series}[{span}]))")
    found = []
    for sli in settings.SLIS:
        bad = by_service(
            f"sum by (service) (sum_over_time({settings.slo_step_errors(sli)}{selector}[{span}]))"
        )
        burn = {w: by_service(settings.slo_burn_rate(sli, w) + selector) for w in BURN_WINDOWS}
        for name in services:
            slo = catalog.services[name].slo
            found.append(
                _budget(
                    name,
                    sli,
                    slo.objective(sli),
                    slo.reason(sli),
                    window,
                    start,
                    end,
                    requests.get(name, 0.0),
                    bad.get(name, 0.0),
                    {w: burn[w].get(name) for w in BURN_WINDOWS},
                    min(steps.get(name, 0.0) * _STEP_SECONDS, end - start),
                )
            )
    return sorted(found, key=_worst_first)


def _budget(
    service: str,
    sli: str,
    objective: float,
    reason: str,
    window: str,
    start: float,
    end: float,
    requests: float,
    bad: float,
    burn_rates: dict[str, float | None],
    covered: float,
) -> Budget:
    allowed = (1 - objective) * requests
    remaining = 1 - bad / allowed if requests > 0 else None
    window_seconds = _window_seconds(window)
    return Budget(
        service=service,
        sli=sli,
        objective=objective,
        reason=reason,
        window=window,
        start=start,
        end=end,
        requests=requests,
        bad_requests=bad,
        sli_value=1 - bad / requests if requests > 0 else None,
        remaining=remaining,
        remaining_requests=allowed - bad if remaining is not None else None,
        remaining_minutes=(
            remaining * (1 - objective) * window_seconds / 60 if remaining is not None else None
        ),
        burn_rates=burn_rates,
        exhaustion_seconds=_exhaustion(remaining, burn_rates[EXHAUSTION_WINDOW], window_seconds),
        covered_seconds=covered,
    )


def _exhaustion(remaining: float | None, burn: float | None, window_seconds: float) -> float | None:
    """Seconds until the budget is spent at the burn rate ``burn``: 0 when it is spent already, None
    when it is not being spent faster than it renews (a burn rate of 1 spends it in exactly a window)."""
    if remaining is None:
        return None
    if remaining <= 0:
        return 0.0
    if burn is None or burn <= 1:
        return None
    return remaining * window_seconds / burn


def _services(catalog: Catalog, service: str | None) -> list[str]:
    if service is None:
        return sorted(catalog.services)
    if service not in catalog.services:
        raise SLOError(
            f"no service {service!r} in the catalog: name one of {', '.join(sorted(catalog.services))}"
        )
    return [service]


def _worst_first(budget: Budget) -> tuple:
    """Least budget left first; SLOs without requests last (nothing to tell)."""
    return (budget.remaining is None, budget.remaining or 0.0, budget.service, budget.sli)
