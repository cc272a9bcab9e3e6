"""`airscope bench slo`: `airscope slo`'s figures over a month of synthetic history, beside the truth.

Every catalog service's requests over ``days`` (30 by default) ending at the start of this month
(so the last month is whole), at rates like the platform's own and with a few incidents and deploys
(``slo_history``), go into a throwaway Prometheus with the SLO rules recorded over them
(``slo_backfill``). Then ``airscope.slo.budget.budgets()`` is timed there several times (the goal:
under a second), and each SLO's budget left is printed beside the truth counted from the requests
themselves, and the month's report's compliance beside the truth's.
"""

from __future__ import annotations

import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from airscope import tables, units
from airscope.bench.slo_backfill import Backfilled, backfilled
from airscope.bench.slo_history import Deploy, History, Incident, Traffic
from airscope.catalog import Catalog
from airscope.promapi import Prometheus
from airscope.slo.budget import Budget, budgets, month_bounds
from airscope.slo.report import month_report
from airscope.stack import settings

GOAL_SECONDS = 1.0
PERIOD_SECONDS = units.parse_duration(settings.SLO_PERIOD)
RUNS = 5
# Requests a second at the daily peak, and a normal day's failing and slow shares: one to tens of
# requests a second, a small platform's traffic, where one request more or less shows in the budget.
TRAFFIC = {
    "api-gateway": Traffic(30, failing=0.001, slow=0.002),
    "frontend": Traffic(20, failing=0.001, slow=0.002),
    "airtable-gateway": Traffic(15, failing=0.001, slow=0.01),
    "platform-services": Traffic(12, failing=0.001, slow=0.003),
    "mcp-server": Traffic(8, failing=0.002, slow=0.01),
    "llm-orchestrator": Traffic(4, failing=0.003, slow=0.01),
    "automation-services": Traffic(3, failing=0.002, slow=0.01),
    "saga-orchestrator": Traffic(1, failing=0.002, slow=0.01),
}
# (service, day of the history, hour, minutes, failing, slow, readiness fails): what went wrong.
INCIDENTS = (
    ("api-gateway", 4, 14, 12, 1.0, 0.0, True),  # an outage in the afternoon peak
    ("frontend", 4, 14, 12, 0.5, 0.0, False),  # its /api proxy, meanwhile
    ("llm-orchestrator", 7, 9, 180, 0.15, 0.0, False),  # the LLM provider's errors
    ("airtable-gateway", 10, 10, 360, 0.6, 0.0, False),  # Airtable's outage: overspends the month
    ("mcp-server", 10, 10, 360, 0.0, 0.5, False),  # waiting on it
    ("saga-orchestrator", 13, 16, 240, 0.0, 0.2, False),
    ("platform-services", 15, 11, 360, 0.05, 0.0, False),  # a bad deploy, rolled back late
    ("airtable-gateway", 19, 15, 120, 0.0, 0.4, False),
    ("llm-orchestrator", 22, 20, 60, 0.0, 0.3, False),
    ("automation-services", 25, 3, 30, 1.0, 0.0, True),  # down at night
)
DEPLOY_EVERY_DAYS = 4


def history(catalog: Catalog, days: int, end: float) -> History:
    """Every catalog service's requests over the ``days`` before ``end``."""
    start = end - days * 86400
    incidents = tuple(
        Incident(name, at, at + minutes * 60, failing=failing, slow=slow, unready=unready)
        for name, day, hour, minutes, failing, slow, unready in INCIDENTS
        if (at := start + day * 86400 + hour * 3600) + minutes * 60 <= end
    )
    deploys = tuple(
        Deploy(name, start + day * 86400 + 10 * 3600 + 7 * i)
        for i, name in enumerate(sorted(catalog.services))
        for day in range(1 + i % DEPLOY_EVERY_DAYS, days, DEPLOY_EVERY_DAYS)
    )
    traffic = {name: TRAFFIC.get(name, Traffic(5, failing=0.001, slow=0.005)) for name in catalog.services}
    return History(start, end, traffic, incidents, deploys)


def this_month(now: float) -> float:
    """The first instant of ``now``'s month, UTC."""
    day = datetime.fromtimestamp(now, UTC)
    return datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Row:
    """One SLO's budget left as airscope.slo says it, and the truth's."""

    service: str
    sli: str
    objective: float
    found: float | None
    truth: float | None  # over the window asked for
    counted: float | None  # over the minutes the budget counts (cut at the steps' stamps)

    @property
    def compliant(self) -> bool | None:
        return None if self.found is None else self.found >= 0

    @property
    def truly_compliant(self) -> bool | None:
        return None if self.truth is None else self.truth >= 0


@dataclass(frozen=True)
class Measurement:
    days: int
    start: float
    end: float
    month: str
    blocks: int  # the TSDB blocks Prometheus had loaded when budgets() was timed
    budgets_seconds: list[float]
    report_seconds: float
    rolling: list[Row]
    monthly: list[Row]


def _rows(found: list[Budget], source: Backfilled, start: float, end: float) -> list[Row]:
    truth = source.truth
    rows = []
    for budget in sorted(found, key=lambda b: (b.service, b.sli)):
        events = truth.counts(budget.service, start, end)
        counted = truth.counts(budget.service, *source.counted(start, end))
        rows.append(
            Row(
                budget.service,
                budget.sli,
                budget.objective,
                budget.remaining,
                events.remaining(budget.sli, budget.objective),
                counted.remaining(budget.sli, budget.objective),
            )
        )
    return rows


def _blocks(url: str) -> int:
    """Prometheus' own count of the blocks it has loaded (prometheus_tsdb_blocks_loaded)."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("prometheus_tsdb_blocks_loaded "):
            return int(float(line.split()[1]))
    return 0


def measure(
    catalog: Catalog, days: int = 30, runs: int = RUNS, progress: Callable[[str], None] = print
) -> Measurement:
    end = this_month(time.time())
    made = history(catalog, days, end)
    month = datetime.fromtimestamp(end - 1, UTC).strftime("%Y-%m")
    began = time.monotonic()

    def told(message: str) -> None:
        progress(f"[{time.monotonic() - began:5.0f} s] {message}")

    with (
        tempfile.TemporaryDirectory(prefix="airscope-bench-slo-") as workdir,
        backfilled(made, catalog, Path(workdir), progress=told) as source,
        Prometheus(source.url, timeout=60) as prometheus,
    ):
        blocks = _blocks(source.url)
        seconds = []
        for _ in range(runs):
            timer = time.perf_counter()
            found = budgets(prometheus, catalog, at=end)
            seconds.append(time.perf_counter() - timer)
        timer = time.perf_counter()
        report = month_report(prometheus, catalog, month, now=end)
        report_seconds = time.perf_counter() - timer
        return Measurement(
            days,
            made.start,
            end,
            month,
            blocks,
            seconds,
            report_seconds,
            _rows(found, source, end - PERIOD_SECONDS, end),
            _rows(report.budgets, source, *month_bounds(month)),
        )


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.2f}%"


def _points(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:+.3f}"


def _off(row: Row, truth: float | None) -> float | None:
    return None if row.found is None or truth is None else row.found - truth


def _rolling(rows: list[Row]) -> str:
    body = [
        [
            row.service,
            row.sli,
            _percent(row.found),
            _percent(row.truth),
            _points(_off(row, row.truth)),
            _points(_off(row, row.counted)),
        ]
        for row in rows
    ]
    return tables.text(("service", "SLI", "left", "truth", "off pp", "count pp"), body, align="llrrrr")


def _monthly(rows: list[Row]) -> str:
    said = {True: "yes", False: "NO", None: "-"}
    body = [
        [
            row.service,
            row.sli,
            _percent(row.found),
            _percent(row.truth),
            said[row.compliant],
            said[row.truly_compliant],
        ]
        for row in rows
    ]
    return tables.text(("service", "SLI", "left", "truth", "met", "truly"), body, align="llrrll")


def render(m: Measurement) -> str:
    seconds = m.budgets_seconds
    median = statistics.median(seconds)
    worst = max((abs(_off(r, r.counted) or 0.0), r.service, r.sli) for r in m.rolling + m.monthly)
    disagree = [f"{r.service} {r.sli}" for r in m.monthly if r.compliant != r.truly_compliant]

    def day(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")

    return "\n\n".join(
        [
            textwrap.fill(
                f"{m.days} days of every catalog service, {day(m.start)} to {day(m.end)} UTC, in a "
                f"Prometheus of {m.blocks} blocks (as backfilled, not compacted yet). budgets() over "
                f"{settings.SLO_PERIOD}: median {median * 1000:.0f} ms, "
                f"{min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms over {len(seconds)} runs (goal: "
                f"under {GOAL_SECONDS:g} s, {'met' if median < GOAL_SECONDS else 'MISSED'}); the "
                f"{m.month} report: {m.report_seconds * 1000:.0f} ms."
            ),
            f"Budget left over the {settings.SLO_PERIOD} to {day(m.end)}:\n{_rolling(m.rolling)}",
            f"Budget left over {m.month}, and whether each SLO met its objective:\n{_monthly(m.monthly)}",
            textwrap.fill(
                "left: airscope.slo's budget left; truth: counted from the generated requests; off: left "
                "minus truth, in percentage points of the budget; count: the same against the truth over "
                "the minutes the per-minute counts cover (cut at the rule group's evaluations, not at the "
                "window's edges); truly: met by the truth."
            ),
            textwrap.fill(
                f"Largest counting error: {worst[0] * 100:.3f} pp ({worst[1]} {worst[2]}). Compliance "
                + (f"differs: {', '.join(disagree)}." if disagree else "agrees with the truth for every SLO.")
            ),
        ]
    )
