"""One live check: a known load through the gateway, then every check over its window."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from airscope import catalog as service_catalog
from airscope import units
from airscope.local import load
from airscope.local.live_check.domain import domain_mismatches
from airscope.local.live_check.gateway import count_mismatches, p95_mismatches
from airscope.local.live_check.panels import empty_panels, panel_queries
from airscope.promapi import Prometheus
from airscope.slo import spent
from airscope.stack import settings

GATEWAY = "api-gateway"  # where the load enters: its counts are the ones the client's can match
# After the last request: one scrape (5 s locally) puts every counter in Prometheus, and one run of
# the slower SLO rule group (30 s) records the burn rates the SLO panels show.
SETTLE_SECONDS = 30 + 5 + 1
SCRAPE_WAIT_SECONDS = 30  # six scrapes locally
# The SLO budget group counts a minute once Prometheus scraped the minute before: on a platform just
# started its budgets appear after two of its runs at most, and the budget panels are empty till then.
BUDGET_WAIT_SECONDS = 2 * units.parse_duration(settings.SLO_BUDGET_STEP) + 15
# In the queries of the panels the SLO budget group feeds (per-minute counts, budget left).
BUDGET_SERIES = ("error_budget_remaining", ":increase1m")
QUERY_TIMEOUT_SECONDS = 30  # a range query of a heavy panel on a busy machine


def _fresh_scrapes(prometheus: Prometheus, since: float, services: Collection[str]) -> bool:
    selector = f'up{{job="{settings.SERVICES_JOB}"}}'
    now = time.time()
    up = prometheus.query(selector, now)
    taken = prometheus.values_by(f"timestamp({selector})", "instance", now)
    fresh = [s.value == 1 and taken.get(s.labels["instance"], 0) > since for s in up]
    return all(fresh) and {s.labels["service"] for s in up} >= set(services)


def wait_for_scrape(
    prometheus: Prometheus, since: float, services: Collection[str], timeout: float = SCRAPE_WAIT_SECONDS
) -> None:
    """Until every instance of every service in ``services`` has a scrape taken after ``since``,
    for at most ``timeout`` (then the counts show what is missing). A fixed sleep is not enough:
    Prometheus finds a just-started platform's targets over several seconds, and a scrape can fail
    or come late on a busy machine; the window would start from a reading older than ``since``,
    or from none at all, and count earlier work as the load's."""
    deadline = time.monotonic() + timeout
    while not _fresh_scrapes(prometheus, since, services) and time.monotonic() < deadline:
        time.sleep(0.5)


def wait_for_budgets(prometheus: Prometheus, timeout: float = BUDGET_WAIT_SECONDS) -> None:
    """Until the SLO budget group has recorded a budget, for at most ``timeout`` (then the budget
    panels are reported empty): immediate on a platform older than two of its runs."""
    deadline = time.monotonic() + timeout
    while not prometheus.query(settings.slo_budget_remaining("availability")) and time.monotonic() < deadline:
        time.sleep(1)


def _budget_empties(empty: list[str]) -> bool:
    return any(series in line for line in empty for series in BUDGET_SERIES)


def _empty_panels(root: Path, prometheus: Prometheus, start: float, end: float) -> list[str]:
    """The empty panels; while budget panels are among them, again after each run of the SLO budget
    group, for at most BUDGET_WAIT_SECONDS: on a young platform a service the load reached first has
    no per-minute counts, nor budget, before a step or two past the load."""
    empty = empty_panels(root, prometheus, start, end)
    deadline = time.monotonic() + BUDGET_WAIT_SECONDS
    counted = spent.counted_until(prometheus) or 0.0
    while _budget_empties(empty) and time.monotonic() < deadline:
        time.sleep(1)
        now = spent.counted_until(prometheus) or 0.0
        if now > counted:
            counted = now
            empty = empty_panels(root, prometheus, start, time.time())
    return empty


@dataclass
class LiveReport:
    sent: int
    window_seconds: int
    panels: int
    empty: list[str]
    counts: list[str]
    p95: list[str]
    domain: list[str]

    @property
    def problems(self) -> list[str]:
        return [*self.empty, *self.counts, *self.p95, *self.domain]


def run(
    root: Path, prometheus_url: str, gateway: str, api_key: str, duration: float, rps: float
) -> LiveReport:
    """`airscope load` for ``duration``, then every check over its window."""
    with Prometheus(prometheus_url, timeout=QUERY_TIMEOUT_SECONDS) as prometheus:
        # Requests that ended just before must be in a scrape older than `start`, or they count in it.
        wait_for_scrape(prometheus, time.time(), service_catalog.load().services)
        start = time.time()
        tally = load.send(gateway, api_key, rps, duration)
        time.sleep(SETTLE_SECONDS)
        end = time.time()
        sent = Counter()
        for (method, route, status, _), n in tally.counts.items():
            if status is not None:
                sent[(method, route, status)] += n
        latencies = {key: sorted(values) for key, values in tally.latencies.items()}
        client_p95 = {key: load.percentile(values, 0.95) for key, values in latencies.items() if values}
        counts = {key: len(values) for key, values in latencies.items()}
        return LiveReport(
            sent=tally.sent,
            window_seconds=int(end - start) + 1,
            panels=len(panel_queries(root)),
            empty=_empty_panels(root, prometheus, start, end),
            counts=count_mismatches(prometheus, dict(sent), start, end, GATEWAY),
            p95=p95_mismatches(prometheus, client_p95, start, end, GATEWAY, counts=counts),
            domain=domain_mismatches(prometheus, tally.domain, start, end),
        )
