"""Synthetic histories of the services' requests with known failures, for the error-budget figures.

A history is every service's users' requests over days, as production's Prometheus would have
scraped them: steady traffic with a daily cycle, a few failures and slow answers on a normal day,
incidents of failures and of slow answers at known times, and deploys (a restart resets every
counter, and a series comes back only with its next request, as prometheus-client exports it). It
is written as the kit's own metric (``http_server_request_duration_seconds`` with the labels and
buckets the recording rules select), with the traps a wrong rule would fall in: the readiness
probe, which fails on its own while a dependency is down; 4xx answers, which are no failures; 499
(the caller gave up), which is one; answers just under the SLO's latency threshold, which a rule
reading the bucket below it would count as slow.

``Truth`` counts what happened from the events themselves, never through PromQL: the figures
``airscope slo`` should show. ``airscope.bench.slo_backfill`` puts a history into a Prometheus.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from airscope import units
from airscope.catalog import Catalog
from airscope.stack import rules
from airscope.stack.settings import COMPOSE, SERVICES_JOB
from airscope.telemetry import LATENCY_BUCKETS

SCRAPE_INTERVAL = units.parse_duration(COMPOSE.scrape_interval)
# Scrapes fall at their own offset within the minute (Prometheus spreads targets by a hash), not on
# the rule group's evaluations.
SCRAPE_PHASE = 4.321
# promtool's blocks span two hours from the epoch, and it reads its input once per block: one file
# per block keeps the import linear in the history's length.
BLOCK_SECONDS = 7200
GET_SHARE = 0.7  # of the users' requests; the rest are POSTs
CLIENT_ERRORS = 0.02  # of the GETs answer 404: the user's mistake, not a failure
NEAR_THRESHOLD = 0.05  # of the answers in time take longer than the bucket below the threshold
GAVE_UP = 0.4  # of the failing POSTs end in 499, slow too; the rest answer 503 (GETs answer 500)
PROBES_PER_SCRAPE = 3  # the readiness probe, every 5 s
PEAK_HOUR, TROUGH_SHARE = 15, 0.1  # traffic peaks at 15:00 UTC and falls to a tenth of it at 03:00

_GET, _POST = "GET", "POST"
_ITEM, _ITEMS, _READY = "/api/items/{item_id}", "/api/items", "/health/ready"
FAST, NEAR, SLOW = "fast", "near", "slow"
# (method, route, status, latency) of what users do: the probe is apart, the rules leave it out.
_USER_KINDS = (
    (_GET, _ITEM, "200", FAST),
    (_GET, _ITEM, "200", NEAR),
    (_GET, _ITEM, "200", SLOW),
    (_GET, _ITEM, "404", FAST),
    (_GET, _ITEM, "500", FAST),
    (_POST, _ITEMS, "201", FAST),
    (_POST, _ITEMS, "201", NEAR),
    (_POST, _ITEMS, "201", SLOW),
    (_POST, _ITEMS, "503", FAST),
    (_POST, _ITEMS, "499", SLOW),
)
_FAILED = frozenset({"500", "503", "499"})
# What Truth keeps per service: the users' requests and each SLI's bad ones, then the traps: what a
# rule would add by counting the probe, or 4xx as failures, or the bucket below the threshold, or
# would leave out by missing 499.
KINDS = (
    "requests",
    "availability",
    "latency",
    "probes",
    "probe_failures",
    "client_errors",
    "near",
    "gave_up",
)


@dataclass(frozen=True)
class Traffic:
    """A service's users on a normal day: requests a second at the daily peak, and the shares that
    fail (5xx or 499) and that are slower than the SLO's threshold."""

    peak_rate: float
    failing: float = 0.0
    slow: float = 0.0


@dataclass(frozen=True)
class Incident:
    """From ``start`` to ``end`` (unix seconds) this share of a service's requests fails, or is slow,
    on top of the normal day's; ``unready``: its readiness probe answers 503 meanwhile."""

    service: str
    start: float
    end: float
    failing: float = 0.0
    slow: float = 0.0
    unready: bool = False


@dataclass(frozen=True)
class Deploy:
    """The service restarts at ``at``, just after a scrape: its counters start again from zero."""

    service: str
    at: float


@dataclass(frozen=True)
class History:
    """Every service's requests from ``start`` to ``end`` (unix seconds), scraped every
    ``scrape_interval``; the same ``seed`` gives the same requests."""

    start: float
    end: float
    traffic: Mapping[str, Traffic]
    incidents: tuple[Incident, ...] = ()
    deploys: tuple[Deploy, ...] = ()
    scrape_interval: float = SCRAPE_INTERVAL
    seed: int = 22

    def scrape_times(self) -> Iterator[float]:
        first = self.start + SCRAPE_PHASE % self.scrape_interval
        for i in range(int((self.end - first) // self.scrape_interval) + 1):
            yield first + i * self.scrape_interval

    def scraped_by(self, at: float) -> float:
        """The last scrape at or before ``at``: what a rule evaluated at ``at`` has seen."""
        first = self.start + SCRAPE_PHASE % self.scrape_interval
        return first + max(math.floor((at - first) / self.scrape_interval), 0) * self.scrape_interval


@dataclass(frozen=True)
class Counts:
    """A service's requests in a window, counted from the events: ``KINDS`` -> how many."""

    found: Mapping[str, float]

    @property
    def requests(self) -> float:
        return self.found["requests"]

    def bad(self, sli: str) -> float:
        return self.found[sli]

    def remaining(self, sli: str, objective: float) -> float | None:
        """The share of the budget left: 1 - bad / allowed, as airscope.slo.budget computes it."""
        allowed = (1 - objective) * self.requests
        return 1 - self.bad(sli) / allowed if self.requests > 0 else None


@dataclass
class Truth:
    """What happened, per service: running totals of each of ``KINDS`` at every scrape time.

    Requests between two scrapes are taken as spread evenly between them, so a window may begin or
    end anywhere."""

    times: array = field(default_factory=lambda: array("d"))
    totals: dict[tuple[str, str], array] = field(default_factory=dict)

    def _total(self, service: str, kind: str, at: float) -> float:
        times, totals = self.times, self.totals[service, kind]
        if not times or at <= times[0]:
            return 0.0
        if at >= times[-1]:
            return float(totals[-1])
        step = times[1] - times[0]
        i = int((at - times[0]) // step)
        return totals[i] + (at - times[i]) / step * (totals[i + 1] - totals[i])

    def counts(self, service: str, start: float, end: float) -> Counts:
        """What ``service``'s users did after ``start`` up to ``end``."""
        return Counts(
            {kind: self._total(service, kind, end) - self._total(service, kind, start) for kind in KINDS}
        )


def _poisson(rng: random.Random, mean: float) -> int:
    """Requests of one scrape interval: Poisson, as independent users' requests arrive."""
    if mean <= 0:
        return 0
    if mean > 30:  # the normal approximation, good there, and one draw
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _daily(at: float) -> float:
    """The share of the peak rate at ``at``: a cosine over the day, lowest 12 hours from the peak."""
    hour = (at % 86400) / 3600
    return TROUGH_SHARE + (1 - TROUGH_SHARE) * (1 + math.cos(2 * math.pi * (hour - PEAK_HOUR) / 24)) / 2


@cache
def _shares(failing: float, slow: float) -> tuple[tuple[tuple[str, str, str, str], float], ...]:
    """Each kind of user request's share of the requests (a normal day's come back every scrape)."""
    in_time = {FAST: max(0.0, 1 - NEAR_THRESHOLD - slow), NEAR: min(NEAR_THRESHOLD, 1 - slow), SLOW: slow}
    shares = []
    for kind in _USER_KINDS:
        method, _, status, latency = kind
        if status in _FAILED:
            share = failing * (1 if method == _GET else GAVE_UP if status == "499" else 1 - GAVE_UP)
        elif status == "404":
            share = (1 - failing) * CLIENT_ERRORS
        else:
            share = (1 - failing) * (1 - CLIENT_ERRORS if method == _GET else 1) * in_time[latency]
        shares.append((kind, (GET_SHARE if method == _GET else 1 - GET_SHARE) * share))
    return tuple(shares)


def _either(normal: float, extra: float) -> float:
    """The share that fails (or is slow) either way, on a normal day and in an incident independently."""
    return 1 - (1 - normal) * (1 - extra)


class _Process:
    """One service's process as Prometheus scrapes it: a histogram's count and two buckets (the SLO's
    threshold and the one below) per method, route and status; a deploy clears them."""

    def __init__(self, name: str, threshold: float) -> None:
        below = max((b for b in LATENCY_BUCKETS if b < threshold), default=0.0)
        self.name = name
        # `le` as prometheus-client writes it, and as the rules select it: always a float.
        self.les = (repr(float(below)), repr(float(threshold)))
        self.series: dict[tuple[str, str, str], list[int]] = {}
        self._names: dict[tuple[str, str, str], tuple[str, str, str]] = {}

    def observe(self, key: tuple[str, str, str], latency: str, count: int) -> None:
        if count == 0:  # prometheus-client exports a label set from its first observation on
            return
        counts = self.series.setdefault(key, [0, 0, 0])  # le=below, le=threshold, count
        counts[0] += count if latency == FAST else 0
        counts[1] += count if latency != SLOW else 0
        counts[2] += count

    def lines(self, stamp: str) -> Iterator[str]:
        # The target answers every scrape: the budget rules count a series that is new on a target
        # scraped a step before in full.
        yield f'up{{job="{SERVICES_JOB}",service="{self.name}"}} 1 {stamp}\n'
        for key, counts in self.series.items():
            names = self._names.get(key) or self._name(key)
            for name, value in zip(names, counts, strict=True):
                yield f"{name} {value} {stamp}\n"

    def _name(self, key: tuple[str, str, str]) -> tuple[str, str, str]:
        method, route, status = key
        labels = (
            f'job="{SERVICES_JOB}",service="{self.name}",route="{route}",method="{method}",status="{status}"'
        )
        below, threshold = (f'{rules.DURATION}_bucket{{{labels},le="{le}"}}' for le in self.les)
        found = self._names[key] = (below, threshold, f"{rules.DURATION}_count{{{labels}}}")
        return found


class Scrapes:
    """The history as Prometheus scraped it, written as OpenMetrics files; ``truth`` is complete once
    every file is written."""

    def __init__(self, history: History, catalog: Catalog) -> None:
        self.history = history
        self.catalog = catalog
        self.truth = Truth()
        self._incidents = {
            name: [i for i in history.incidents if i.service == name] for name in history.traffic
        }

    def files(self, directory: Path) -> Iterator[Path]:
        """One file per promtool block, each yielded once written, so that a caller can import it
        while the next one is written."""
        history, truth = self.history, self.truth
        rng = random.Random(history.seed)
        processes = [
            _Process(name, self.catalog.services[name].slo.latency_seconds)
            for name in sorted(history.traffic)
        ]
        for process in processes:
            for kind in KINDS:
                truth.totals[process.name, kind] = array("q", [0])
        first = next(history.scrape_times())
        # A deploy restarts the service after the last scrape before it: by that scrape's index.
        deploys = {(d.service, int((d.at - first) // history.scrape_interval)) for d in history.deploys}
        block, lines, previous = None, [], None
        for index, at in enumerate(history.scrape_times()):
            if block is not None and int(at // BLOCK_SECONDS) != block:
                yield _write(directory, block, lines)
                lines = []
            block = int(at // BLOCK_SECONDS)
            truth.times.append(at)
            stamp = f"{at:.3f}"
            for process in processes:
                # The services ran before the history: its first scrape finds their series, holding
                # the interval before it, which the truth leaves out as Prometheus' counts do.
                served = self._serve(
                    rng, process, at - history.scrape_interval if previous is None else previous, at
                )
                if previous is not None:
                    for kind in KINDS:
                        totals = truth.totals[process.name, kind]
                        totals.append(totals[-1] + served[kind])
                lines.extend(process.lines(stamp))
                if (process.name, index) in deploys:
                    process.series.clear()
            previous = at
        if lines:
            yield _write(directory, block, lines)

    def _serve(self, rng: random.Random, process: _Process, since: float, at: float) -> dict[str, int]:
        """The requests ``process`` served after the scrape at ``since`` up to the one at ``at``."""
        traffic = self.history.traffic[process.name]
        middle = (since + at) / 2
        failing, slow, unready = traffic.failing, traffic.slow, False
        for incident in self._incidents[process.name]:
            if incident.start <= middle < incident.end:
                failing, slow = _either(failing, incident.failing), _either(slow, incident.slow)
                unready = unready or incident.unready
        expected = traffic.peak_rate * _daily(middle) * (at - since)
        served = dict.fromkeys(KINDS, 0)
        for kind, share in _shares(failing, slow):
            count = _poisson(rng, expected * share)
            method, route, status, latency = kind
            process.observe((method, route, status), latency, count)
            served["requests"] += count
            served["availability"] += count if status in _FAILED else 0
            served["latency"] += count if latency == SLOW else 0
            served["client_errors"] += count if status == "404" else 0
            served["near"] += count if latency == NEAR else 0
            served["gave_up"] += count if status == "499" else 0
        process.observe((_GET, _READY, "503" if unready else "200"), FAST, PROBES_PER_SCRAPE)
        served["probes"] = PROBES_PER_SCRAPE
        served["probe_failures"] = PROBES_PER_SCRAPE if unready else 0
        return served


def _write(directory: Path, block: int, lines: list[str]) -> Path:
    path = directory / f"history-{block * BLOCK_SECONDS}.om"
    with path.open("w") as out:
        out.write(f"# TYPE {rules.DURATION} histogram\n")
        out.writelines(lines)
        out.write("# EOF\n")
    return path
