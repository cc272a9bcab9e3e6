"""The quick drills against the whole local platform: each fault's alert reaches the local receiver
within its bound, resolves within a minute of healing, and nothing else fires; a drill of chats
gets every chat answered 200; and the error budget each drill records it spent is what the
services' own counters say, within one scrape's worth of requests."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from airscope import catalog
from airscope.cli import main
from airscope.local.drills import record
from airscope.local.drills.faults import CHAT_TOOL_FAILED, CHATS
from airscope.local.drills.run import BUDGET_WAIT_MARGIN, QUIET_WAIT, SCRAPE_SECONDS
from airscope.local.drills.scenarios import QUICK, RESOLVE_WITHIN, scenarios
from airscope.slo.spent import STEP_SECONDS, steps
from airscope.stack.settings import FAILED_STATUS, KIT_ROUTES, SLIS, slo_step_errors, slo_step_requests
from tests.e2e.conftest import RunningPlatform

# A drill waits for its alert from before to resolve, then twice each bound at most, then for the
# SLO budget rules to count up to healing.
LONGEST = (
    max(2 * (scenarios()[name].notify_within + RESOLVE_WITHIN) for name in QUICK)
    + QUIET_WAIT
    + SCRAPE_SECONDS
    + STEP_SECONDS
    + BUDGET_WAIT_MARGIN
)
# The drills whose fault fails requests, and the service that must have spent budget on it.
SPENDS = {"error-burst": "airtable-gateway", "chat-failures": "airtable-gateway"}
DURATION = "http_server_request_duration_seconds"


@dataclass(frozen=True)
class Counts:
    """What a service's own /metrics says it served, probe routes left out (as the SLOs do)."""

    requests: float
    bad: dict[str, float]  # sli -> requests failed (5xx, 499) or slower than the SLO's threshold
    started: float  # process_start_time_seconds (0: not exported): a restart resets every counter


def read_counts(url: str, threshold: float) -> Counts:
    requests, failed, fast, started = 0.0, 0.0, 0.0, 0.0
    text = httpx.get(url + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "process_start_time_seconds":
                started = sample.value
            if labels.get("route") in KIT_ROUTES:
                continue
            if sample.name == DURATION + "_count":
                requests += sample.value
                failed += sample.value if re.fullmatch(FAILED_STATUS, labels["status"]) else 0
            elif sample.name == DURATION + "_bucket" and float(labels["le"]) == threshold:
                fast += sample.value
    return Counts(requests, {"availability": failed, "latency": requests - fast}, started)


class Sampler:
    """Every service's counters, read once a second for as long as this module runs: the ground
    truth at any moment, interpolated between two readings a second apart."""

    def __init__(self, platform: RunningPlatform) -> None:
        services = catalog.load().services
        self.thresholds = {name: services[name].slo.latency_seconds for name in services}
        self.urls = {name: platform[name] for name in services}
        self.readings: dict[str, list[tuple[float, Counts]]] = {name: [] for name in services}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="budget ground truth", daemon=True)

    def _read(self) -> None:
        for name, url in self.urls.items():
            began = time.time()
            try:
                counts = read_counts(url, self.thresholds[name])
            except httpx.HTTPError:
                continue  # stopped by a drill: its readings resume, from 0, once it is back
            self.readings[name].append(((began + time.time()) / 2, counts))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._read()

    def __enter__(self) -> Sampler:
        self._read()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def at(self, service: str, t: float) -> Counts:
        """The counters at ``t``, linearly between the readings around it (the first one before it)."""
        readings = self.readings[service]
        before = [r for r in readings if r[0] <= t] or readings[:1]
        after = [r for r in readings if r[0] >= t] or readings[-1:]
        (t0, c0), (t1, c1) = before[-1], after[0]
        share = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)

        def between(a: float, b: float) -> float:
            return a + (b - a) * share

        bad = {sli: between(c0.bad[sli], c1.bad[sli]) for sli in SLIS}
        return Counts(between(c0.requests, c1.requests), bad, c1.started)

    def started(self, service: str) -> set[float]:
        """The process start times its readings gave: more than one, it restarted meanwhile."""
        return {counts.started for _, counts in self.readings[service]}


@pytest.fixture(scope="module")
def counters(platform: RunningPlatform) -> Iterator[Sampler]:
    with Sampler(platform) as sampler:
        yield sampler


def _query(platform: RunningPlatform, expr: str, at: float) -> list[dict]:
    answer = httpx.get(
        platform["prometheus"] + "/api/v1/query", params={"query": expr, "time": at}, timeout=10
    )
    return answer.json()["data"]["result"]


def step_stamps(platform: RunningPlatform, start: float, end: float) -> list[float]:
    """When the SLO budget group evaluated the steps slo.spent counts for [start, end]."""
    after, before = steps(start, end)
    at = before - 0.001
    found = _query(platform, f"{slo_step_requests()}[{round((at - after) * 1000) - 1}ms]", at)
    return sorted({float(t) for series in found for t, _ in series["values"]})


def recorded_counts(platform: RunningPlatform, start: float, end: float) -> dict[tuple[str, str], float]:
    """The recorded counts behind slo.spent's figure, for the figures printed: (service, "requests")
    over the window, (service, sli) bad in the steps of [start, end]."""
    after, before = steps(start, end)
    at = before - 0.001
    span = f"{round((at - after) * 1000) - 1}ms"
    found = {}
    for sample in _query(platform, f"sum by (service) (sum_over_time({slo_step_requests()}[30d]))", at):
        found[sample["metric"]["service"], "requests"] = float(sample["value"][1])
    for sli in SLIS:
        expr = f"sum by (service) (sum_over_time({slo_step_errors(sli)}[{span}]))"
        for sample in _query(platform, expr, at):
            found[sample["metric"]["service"], sli] = float(sample["value"][1])
    return found


def lifelong(platform: RunningPlatform, counters: Sampler, service: str, at: float) -> bool:
    """Whether the service's counters hold everything it served while Prometheus watched: the one
    process the sampler read is the first Prometheus scraped (a drill's stopped service is not)."""
    expr = f'min(min_over_time(process_start_time_seconds{{job="services", service="{service}"}}[30d]))'
    (first,) = _query(platform, expr, at) or [{"value": (at, "nan")}]
    starts = counters.started(service)
    return len(starts) == 1 and abs(starts.pop() - float(first["value"][1])) < 1


def check_budget(platform: RunningPlatform, counters: Sampler, report: dict) -> list[str]:
    """The drill's budget figures against the ground truth, service by service; the lines compared.

    The window of a budget is the SLO period (30 days) up to the last step counted, which on this
    platform is everything a service served since it started: its counters at that step, when it
    never restarted (a service a drill stopped and restarted is left out). Its bad requests are
    those of the minute-steps counted, from the minute before the first (a step holds the minute
    before its stamp) to the last.

    The recorded counts are the differences of the samples each step's evaluation saw, so they
    cover the requests up to the scrape before each stamp, not up to the stamp, and the sampler's
    readings are a second apart and a few seconds off Prometheus' scrapes; a series new on a target
    Prometheus had not scraped a step before (the platform's first minute) is not counted. So each
    count may be off by a scrape's worth of requests at each of the interval's two edges, and the recorded share must lie between the ground truth's shares with that taken from
    or added to each count (a scrape's worth at the drill's rate, one request at least)."""
    started = datetime.fromisoformat(report["started"]).timestamp()
    until = datetime.fromisoformat(report["budget_until"]).timestamp()
    stamps = step_stamps(platform, started, until)
    assert stamps, f"no SLO budget step between {report['started']} and {report['budget_until']}"
    first, last = stamps[0] - STEP_SECONDS, stamps[-1]
    services = catalog.load().services
    counted = recorded_counts(platform, started, until)
    compared = []
    for name in services:
        if not lifelong(platform, counters, name, last):
            if name in report["budget_spent"]:
                compared.append(f"{name}: not compared (restarted: its counters do not hold the window)")
            continue
        before, after = counters.at(name, first), counters.at(name, last)
        scrape = max((after.requests - before.requests) / (last - first) * SCRAPE_SECONDS, 1.0)
        for sli in SLIS:
            share = 1 - services[name].slo.objective(sli)
            bad, requests = after.bad[sli] - before.bad[sli], after.requests
            recorded = report["budget_spent"].get(name, {}).get(sli, 0.0)
            if bad == recorded == 0:
                continue
            low = max(bad - 2 * scrape, 0) / (share * (requests + 2 * scrape))
            high = (bad + 2 * scrape) / (share * max(requests - 2 * scrape, 1))
            counted_bad, counted_requests = counted.get((name, sli), 0), counted.get((name, "requests"), 0)
            line = (
                f"{name} {sli}: recorded {recorded:.4f} ({counted_bad:.1f} bad of {counted_requests:.1f} "
                f"requests), ground truth {bad / (share * requests) if requests else 0:.4f} ({bad:.1f} bad "
                f"of {requests:.1f}); off by {(counted_bad - bad) / scrape:+.2f} and "
                f"{(counted_requests - requests) / scrape:+.2f} scrapes' worth ({scrape:.1f} requests); "
                f"bounds {low:.4f} to {high:.4f}"
            )
            compared.append(line)
            assert low <= recorded <= high, line
    return compared


@pytest.mark.timeout(LONGEST + 30)
@pytest.mark.parametrize("scenario", QUICK)
def test_the_quick_drill_is_notified_in_time_resolves_and_raises_nothing_else(
    platform: RunningPlatform, counters: Sampler, scenario
):
    result = CliRunner().invoke(main, ["drill", scenario, "--json"])
    (report,) = json.loads(result.stdout)
    assert report["error"] is None, report
    assert report["unexpected"] == [], report
    assert report["notified_after_seconds"] is not None, report
    assert report["notified_after_seconds"] <= report["notify_bound_seconds"], report
    assert report["resolved_after_seconds"] is not None, report
    assert report["resolved_after_seconds"] <= RESOLVE_WITHIN, report
    assert report["passed"] and result.exit_code == 0, report
    if scenarios()[scenario].traffic_kind == CHATS:
        # Every chat is answered: 200, its answer reporting the failed tool while the fault lasts.
        assert set(report["traffic"]) <= {"200", CHAT_TOOL_FAILED}, report["traffic"]
        assert report["traffic"].get(CHAT_TOOL_FAILED, 0) > 0, report["traffic"]

    # The budget the drill spent: recorded, and what the services' own counters say.
    kept = record.entries(platform.home)[-1]
    assert (kept.scenario, kept.started, kept.healed, kept.budget_until) == (
        scenario,
        report["started"],
        report["healed"],
        report["budget_until"],
    )
    assert kept.budget_spent == report["budget_spent"] and kept.budget_spent is not None, report
    compared = check_budget(platform, counters, report)
    if scenario in SPENDS:
        assert report["budget_spent"].get(SPENDS[scenario], {}).get("availability", 0) > 0, report
        assert any(line.startswith(f"{SPENDS[scenario]} availability: recorded") for line in compared)
    print(f"\nFIGURES budget spent by {scenario}:", *compared, sep="\n  ")
