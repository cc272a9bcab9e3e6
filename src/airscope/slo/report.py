"""A calendar month's SLO report: per SLO, whether it met its objective and how much budget is left,
and the episodes that spent budget: the alert episodes Prometheus recorded in ``ALERTS`` and the
drills run, each with what it spent (airscope.slo.spent over its interval).

Episodes overlap (an ErrorBudgetBurn page and the HighErrorRate under it are one incident seen
twice), so their shares are never added up: the month's own figure is the budget left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from airscope import tables, units
from airscope.catalog import Catalog
from airscope.promapi import Prometheus
from airscope.slo import spent as slo_spent
from airscope.slo.budget import Budget, month_bounds, month_budgets
from airscope.stack import settings

# The alerts that say a service spends budget: the burn-rate pages and tickets, and the symptoms
# under them. Infrastructure alerts are left out: when they cost budget, these fire too.
SPENDING_ALERTS = ("ErrorBudgetBurn", "LatencyBudgetBurn", "HighErrorRate", "HighLatency", "ServiceDown")
STEP_SECONDS = units.parse_duration(settings.SLO_BUDGET_STEP)
# Prometheus refuses a range query of more than 11 000 points: a month of minutes is asked in parts.
MAX_POINTS = 11_000
_SHOWN_PER_SLO = 3


@dataclass(frozen=True)
class Episode:
    """Something that overlapped the month and may have spent budget."""

    kind: str  # "alert" | "drill"
    name: str  # the alertname, or the drill's scenario
    service: str | None  # the alert's service; None: a drill, whose fault reaches any service
    start: float
    end: float


@dataclass(frozen=True)
class Spending:
    """An episode and the share of each SLO's 30-day budget its interval spent."""

    episode: Episode
    spent: dict[str, dict[str, float]]  # {service: {sli: share}}, only shares above 0

    def share(self, service: str, sli: str) -> float:
        return self.spent.get(service, {}).get(sli, 0.0)

    def as_json(self) -> dict:
        return {**asdict(self.episode), "spent": self.spent}


@dataclass(frozen=True)
class MonthReport:
    month: str
    start: float
    end: float  # the month's end, or now in the current month
    budgets: list[Budget]  # worst first
    spendings: list[Spending]  # by start

    @property
    def complete(self) -> bool:
        return self.end >= month_bounds(self.month)[1]

    def spent_on(self, budget: Budget) -> list[tuple[Spending, float]]:
        """The episodes that spent ``budget``'s SLO, most first, with the share each spent."""
        found = [(s, s.share(budget.service, budget.sli)) for s in self.spendings]
        return sorted(((s, share) for s, share in found if share > 0), key=lambda pair: -pair[1])

    def as_json(self) -> dict:
        return {
            "month": self.month,
            "start": self.start,
            "end": self.end,
            "complete": self.complete,
            "slos": [
                {
                    **b.as_json(),
                    "spent_by": [{**asdict(s.episode), "spent": share} for s, share in self.spent_on(b)],
                }
                for b in self.budgets
            ],
            "episodes": [s.as_json() for s in self.spendings],
        }

    def markdown(self) -> str:
        counted = [b for b in self.budgets if b.compliant is not None]
        met = sum(1 for b in counted if b.compliant)
        until = _time(self.end) + (" UTC" if self.complete else " UTC, so far")
        if counted:
            verdict = f"{met} of {len(counted)} SLOs with requests met their objective over the month."
        else:
            verdict = "No SLO had requests over the month: its data may be older than the Prometheus keeps."
        lines = [
            f"# SLO report {self.month}",
            "",
            f"From {_time(self.start)} to {until}. {verdict}",
            "",
            "## SLOs",
            "",
            tables.markdown(
                (
                    "Service",
                    "SLI",
                    "Objective",
                    "SLI over the month",
                    "Met",
                    "Budget left",
                    "Bad requests",
                    "Requests",
                    "Spent most",
                ),
                [self._slo_row(b) for b in self.budgets],
                align="llrrcrrrl",
            ),
            "",
            "Budget left is the month's: 1 - bad requests / the bad requests the objective allows over the "
            "month's requests. Spent most: the episodes whose bad requests took most of the SLO's 30-day "
            "budget.",
            "",
            "## Episodes",
            "",
        ]
        if self.spendings:
            lines += [
                tables.markdown(
                    ("Kind", "Name", "Service", "From (UTC)", "For", "Budget spent (of 30 days')"),
                    [_episode_row(s) for s in self.spendings],
                    align="llllrl",
                ),
                "",
                "Episodes overlap (a page and the warning under it are one incident seen twice): their "
                "shares do not add up.",
            ]
        else:
            lines.append("No alert episode and no drill overlapped the month.")
        return "\n".join(lines) + "\n"

    def _slo_row(self, b: Budget) -> list[str]:
        spenders = self.spent_on(b)
        shown = ", ".join(
            f"{s.episode.name} {_day(s.episode.start)} ({_percent(share)})"
            for s, share in spenders[:_SHOWN_PER_SLO]
        )
        if len(spenders) > _SHOWN_PER_SLO:
            shown += f", {len(spenders) - _SHOWN_PER_SLO} more"
        return [
            b.service,
            b.sli,
            _percent(b.objective),
            "-" if b.sli_value is None else f"{b.sli_value * 100:.3f}%",
            {True: "yes", False: "**no**", None: "no data"}[b.compliant],
            "-" if b.remaining is None else _percent(b.remaining),
            f"{b.bad_requests:,.0f}",
            f"{b.requests:,.0f}",
            shown or "-",
        ]


def month_report(
    prometheus: Prometheus,
    catalog: Catalog,
    month: str,
    *,
    service: str | None = None,
    drills: Sequence[Episode] = (),
    now: float | None = None,
) -> MonthReport:
    """The report of ``month`` (YYYY-MM, UTC), of one service or all; ``drills`` are the drills run
    (any month's: those overlapping this one are kept)."""
    found = month_budgets(prometheus, catalog, month, service=service, now=now)
    start, end = found[0].start, found[0].end
    episodes = alert_episodes(prometheus, start, end, service=service)
    episodes += [_clipped(d, start, end) for d in drills if d.start < end and d.end > start]
    spendings = []
    for episode in sorted(episodes, key=lambda e: (e.start, e.kind, e.name, e.service or "")):
        spent = slo_spent.spent(prometheus, catalog, episode.start, episode.end)
        if service is not None:
            spent = {name: shares for name, shares in spent.items() if name == service}
        spendings.append(Spending(episode, spent))
    return MonthReport(month, start, end, found, spendings)


def alert_episodes(
    prometheus: Prometheus, start: float, end: float, *, service: str | None = None
) -> list[Episode]:
    """The SPENDING_ALERTS' firing episodes in [start, end], by alert and service, to the step: a
    minute-step holding any firing sample is firing, and consecutive firing steps are one episode."""
    step = STEP_SECONDS
    matchers = f'alertstate="firing", alertname=~"{"|".join(SPENDING_ALERTS)}"'
    if service is not None:
        matchers += f', service="{service}"'
    # (t - step, t]: Prometheus 2 includes a range's start, which would count a sample twice.
    expr = f"max by (alertname, service) (max_over_time(ALERTS{{{matchers}}}[{round(step * 1000) - 1}ms]))"
    points: dict[tuple[str, str | None], list[float]] = {}
    first = math.ceil(start / step) * step + step  # the first step wholly inside the window
    while first <= end:
        last = min(end, first + (MAX_POINTS - 1) * step)
        for series in prometheus.query_range(expr, first, last, step):
            key = (series.labels.get("alertname", ""), series.labels.get("service"))
            points.setdefault(key, []).extend(t for t, value in series.points if value is not None)
        first = last + step
    episodes = []
    for (name, alert_service), stamps in sorted(
        points.items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        for run_start, run_end in _runs(sorted(stamps), step):
            episodes.append(Episode("alert", name, alert_service, max(start, run_start - step), run_end))
    return episodes


def _runs(stamps: Sequence[float], step: float) -> list[tuple[float, float]]:
    """Consecutive stamps (one step apart) as (first, last) runs."""
    runs: list[tuple[float, float]] = []
    for stamp in stamps:
        if runs and stamp - runs[-1][1] <= step * 1.5:
            runs[-1] = (runs[-1][0], stamp)
        else:
            runs.append((stamp, stamp))
    return runs


def _clipped(episode: Episode, start: float, end: float) -> Episode:
    return Episode(
        episode.kind, episode.name, episode.service, max(episode.start, start), min(episode.end, end)
    )


def _episode_row(s: Spending) -> list[str]:
    e = s.episode
    return [
        e.kind,
        e.name,
        e.service or "-",
        _time(e.start),
        units.format_duration(round(e.end - e.start)),
        _spent_line(s.spent),
    ]


def _spent_line(spent: dict[str, dict[str, float]]) -> str:
    """``api-gateway availability 12%, latency 0.5%; mcp-server ...``, the most spent first."""
    if not spent:
        return "none"
    most_first = sorted(spent.items(), key=lambda item: -max(item[1].values()))
    return "; ".join(
        f"{service} " + ", ".join(f"{sli} {_percent(share)}" for sli, share in shares.items())
        for service, shares in most_first
    )


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%d %b %H:%M")


def _percent(share: float) -> str:
    """99.5%, 12%, -4.17%, 0.05%; a share too small for two decimals is "<0.01%"."""
    if 0 < share < 0.0001:
        return "<0.01%"
    text = f"{share * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"
