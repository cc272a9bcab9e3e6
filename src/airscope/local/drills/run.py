"""``airscope drill SCENARIO``: inject a fault into the running local platform, wait for its alert at
the local receiver, heal, wait for the resolved notification, and say how long each took.

A drill fails (exit 1) when the expected alert is not notified within its bound, its resolution is
not notified within RESOLVE_WITHIN of healing, or any other alert fires that the fault does not
explain. Alerts already active when the drill began are left out (and named), so drills can run
back to back while a slow budget alert of an earlier one winds down.

Each drill also says how much error budget its fault spent (airscope.slo.spent, from the fault to
healing), and appends itself to the drills' record (record.py), which the month's SLO report reads.
The latency, cpu-hog and memory drills attach a profile taken while their fault is active
(profiles.py): its top functions or lines in the report, the file in the console.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import httpx

from airscope import units
from airscope.errors import AirscopeError
from airscope.local import alert_receiver, load
from airscope.local.drills import profiles, record
from airscope.local.drills.faults import DrillError, Target, Traffic, Unsupported
from airscope.local.drills.scenarios import RESOLVE_WITHIN, Scenario
from airscope.local.drills.watch import (
    Labels,
    Notifications,
    active_alerts,
    describe,
    key,
    matches,
    rule_alerts,
)
from airscope.promapi import Prometheus
from airscope.slo import spent
from airscope.stack.rules_meta import WATCHDOG
from airscope.stack.settings import LOCAL, SLO_BUDGET_GROUP, SLO_PERIOD

QUIET_WAIT = 180.0  # how long a drill waits for its own alert from an earlier run to resolve
QUIET_SETTLE = 45.0  # after the quiet load: above the longest local `for` of a request alert (30 s)
POLL = 0.5
# A request is counted by the first scrape after it, in the budget step evaluated after that scrape:
# a drill's budget is measured up to healing plus a scrape, once the SLO budget group has evaluated
# past that (at most a step later; the margin is for an evaluation that runs late).
SCRAPE_SECONDS = units.parse_duration(LOCAL.scrape_interval)
BUDGET_WAIT_MARGIN = 30.0


@dataclass
class Result:
    scenario: str
    fault: str
    expected: str
    notify_bound_seconds: float
    notified_after_seconds: float | None = None
    resolved_after_seconds: float | None = None
    unexpected: list[str] = field(default_factory=list)
    also_fired: list[str] = field(default_factory=list)  # tolerated: the same fault explains them
    already_active: list[str] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # the fault cannot be made on this machine; the reason
    started: str | None = None  # the fault injected (ISO 8601, UTC)
    healed: str | None = None
    ended: str | None = None  # the traffic stopped and the fault cleaned up
    # {service: {sli: share of the SLO period's error budget}} spent from `started` to `budget_until`
    # (healing plus a scrape); None: not measured (no fault injected, or Prometheus did not say).
    budget_spent: dict[str, dict[str, float]] | None = None
    budget_until: str | None = None
    # The profile taken while the fault was active (airscope.local.profiling's entry(), with its
    # `kind` and console `url`); None: the scenario takes none, or it could not be taken (`profile_error`).
    profile: dict | None = None
    profile_error: str | None = None

    @property
    def passed(self) -> bool:
        if self.skipped:
            return True
        return (
            self.error is None
            and not self.unexpected
            and self.notified_after_seconds is not None
            and self.notified_after_seconds <= self.notify_bound_seconds
            and self.resolved_after_seconds is not None
            and self.resolved_after_seconds <= RESOLVE_WITHIN
        )

    def as_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def entry(self) -> record.Entry:
        return record.Entry(
            self.scenario,
            self.started,
            self.healed,
            self.ended or _now(),
            self.passed,
            self.budget_spent,
            self.budget_until,
            self.profile,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _before(target: Target) -> list[dict]:
    """Alerts an earlier fault started: active in Alertmanager, or pending or firing in Prometheus."""
    return [*active_alerts(target.url("alertmanager")), *rule_alerts(target.url("prometheus"))]


def _wait_quiet(target: Target, scenario: Scenario) -> list[dict]:
    """The alerts active or pending now, once none of them is the one this drill expects, nor one
    that would mute it (``Scenario.muted_by``)."""
    deadline = time.monotonic() + QUIET_WAIT
    watched = (scenario.expect, *scenario.muted_by)
    while True:
        active = _before(target)
        mine = [labels for labels in active if any(matches(labels, m) for m in watched)]
        if not mine:
            return active
        if time.monotonic() > deadline:
            raise DrillError(
                f"{describe(mine[0])} is still active from before this drill ({QUIET_WAIT:.0f} s waited): "
                "heal what raises it (`airscope alerts` shows it), then drill again"
            )
        _say(f"waiting for {describe(mine[0])} from before this drill to resolve ...")
        time.sleep(5)


class Watch:
    """Everything notified since the drill began, sorted into the expected alert and the rest."""

    def __init__(self, scenario: Scenario, already: list[dict], result: Result) -> None:
        self.scenario = scenario
        self.already = {key(labels) for labels in already}
        self.result = result
        self.notifications = Notifications(alert_receiver.notifications_file())
        self.fired: datetime | None = None
        self.resolved: datetime | None = None
        self.expected_keys: set = set()

    def poll(self) -> None:
        for seen in self.notifications.new():
            labels = seen.labels
            if matches(labels, self.scenario.expect):
                self.expected_keys.add(key(labels))
                if seen.status == "firing" and self.fired is None:
                    self.fired = seen.at
                elif seen.status == "resolved" and self.fired is not None:
                    # Resolved once every alert of the expectation has resolved (one per instance...).
                    self.expected_keys.discard(key(labels))
                    if not self.expected_keys:
                        self.resolved = seen.at
                continue
            if seen.status != "firing" or key(labels) in self.already:
                continue
            name = describe(labels)
            if any(matches(labels, tolerated) for tolerated in self.scenario.tolerate):
                if name not in self.result.also_fired:
                    self.result.also_fired.append(name)
            elif name not in self.result.unexpected:
                self.result.unexpected.append(name)
                _say(f"  unexpected: {name}")


def _wait(what: str, done, bound: float, watch: Watch) -> bool:
    began = time.monotonic()
    _say(f"  waiting for {what} (at most {bound:.0f} s) ...")
    while time.monotonic() - began < bound:
        watch.poll()
        if done():
            return True
        time.sleep(POLL)
    return False


def _shown(active: list[Labels]) -> list[str]:
    """The alerts active before a drill, as its report lists them: the Watchdog, always firing by
    design (the alert pipeline's heartbeat), is no alert a reader needs named there."""
    return sorted({describe(labels) for labels in active if labels.get("alertname") != WATCHDOG})


def run(scenario: Scenario, target: Target) -> Result:
    fault = scenario.fault
    result = Result(scenario.name, fault.what, describe(scenario.expect), scenario.notify_within)
    _say(f"drill {scenario.name}: {scenario.doc}")
    try:
        fault.prepare(target)
        already = _wait_quiet(target, scenario)
        result.already_active = _shown(already)
        watch = Watch(scenario, already, result)
        traffic = (
            Traffic(target, scenario.traffic_rps, max_in_flight=scenario.traffic, kind=scenario.traffic_kind)
            if scenario.traffic
            else None
        )
        profile = profiles.Taking(scenario.profile, target, _say) if scenario.profile else None
        try:
            if traffic:
                traffic.__enter__()
                time.sleep(3)  # a baseline of answered requests before the fault
            if profile and profile.attach.kind == profiles.MEMORY:
                # Tracing before the allocation, or the profile could not see it.
                _start_profile(profile)
                time.sleep(profiles.TRACING_STARTS)
            injected = datetime.now(UTC)
            result.started = injected.isoformat()
            fault.inject(target)
            _say(f"  fault injected: {fault.what}")
            if profile and profile.attach.kind == profiles.CPU:
                _start_profile(profile)
            # Waits past the bound (twice it) so that a late alert is still measured, and failed.
            if _wait(
                f"{result.expected} to be notified", lambda: watch.fired, 2 * scenario.notify_within, watch
            ):
                result.notified_after_seconds = round((watch.fired - injected).total_seconds(), 1)
                _say(f"  notified after {result.notified_after_seconds} s")
            healed = datetime.now(UTC)
            result.healed = healed.isoformat()
            fault.heal(target)
            _say("  healed")
            if watch.fired and _wait(
                "its resolved notification", lambda: watch.resolved, 2 * RESOLVE_WITHIN, watch
            ):
                result.resolved_after_seconds = round((watch.resolved - healed).total_seconds(), 1)
                _say(f"  resolved after {result.resolved_after_seconds} s")
        finally:
            if traffic:
                traffic.__exit__(None, None, None)
            fault.cleanup(target)
            if profile:
                _end_profile(profile, result)
            # The scenario's traffic, or the fault's own when demand is the fault (faults.Burst).
            sent = traffic or getattr(fault, "traffic", None)
            if sent:
                result.traffic = {
                    str(status): count for status, count in sorted(sent.statuses.items(), key=str)
                }
            result.ended = _now()
    except Unsupported as exc:
        result.skipped = str(exc)
    except (AirscopeError, httpx.HTTPError) as exc:  # a fault's own call, or Prometheus, Alertmanager
        result.error = str(exc) if isinstance(exc, AirscopeError) else f"{type(exc).__name__}: {exc}"
    if result.started is not None:
        healed = datetime.fromisoformat(result.healed or result.ended or _now())
        result.budget_spent, until = budget_spent(target, datetime.fromisoformat(result.started), healed)
        if result.budget_spent is not None:
            result.budget_until = until.isoformat()
    record.append(target.plat.home, result.entry())
    return result


def _start_profile(profile: profiles.Taking) -> None:
    attach = profile.attach
    _say(f"  taking a {attach.kind} profile of {profile.program} for {attach.seconds:g} s (beside the drill)")
    profile.start()


def _end_profile(profile: profiles.Taking, result: Result) -> None:
    """The profile's outcome into the result (said as soon as it was known; it ended long before any
    drill heals, unless the drill failed early)."""
    if not profile.started:
        return
    profile.wait()
    result.profile, result.profile_error = profile.entry, profile.why_not


def budget_spent(
    target: Target, started: datetime, healed: datetime
) -> tuple[dict[str, dict[str, float]] | None, datetime]:
    """The error budget spent from ``started`` to ``healed`` plus a scrape (that end is returned too),
    once the SLO budget group has counted that far: slo.spent's figures, or None when Prometheus
    cannot say (the reason is printed)."""
    until = healed.timestamp() + SCRAPE_SECONDS
    deadline = until + spent.STEP_SECONDS + BUDGET_WAIT_MARGIN
    found = None
    try:
        with Prometheus(target.url("prometheus")) as prometheus:
            if _evaluated(prometheus) < until:
                _say(
                    f"  waiting for the SLO budget rules to count the requests up to healing (at most "
                    f"{max(0.0, deadline - time.time()):.0f} s) ..."
                )
            while _evaluated(prometheus) < until:
                if time.time() > deadline:
                    raise DrillError(f"Prometheus has not evaluated {SLO_BUDGET_GROUP} since healing")
                time.sleep(1)
            found = spent.spent(prometheus, target.plat.catalog, started.timestamp(), until)
    except AirscopeError as exc:
        _say(f"  budget spent: not measured ({exc})")
    else:
        _say(f"  budget spent: {spent.line(found)}")
    return found, datetime.fromtimestamp(until, UTC)


def _evaluated(prometheus: Prometheus) -> float:
    """When the SLO budget group last evaluated (unix seconds; year 1 before its first time)."""
    counted = spent.counted_until(prometheus)
    if counted is None:
        raise DrillError(
            f"the running Prometheus has no rule group {SLO_BUDGET_GROUP}: its rules predate error "
            "budgets; `airscope down && airscope up` writes them"
        )
    return counted


def render(result: Result) -> str:
    def seconds(value: float | None, bound: float) -> str:
        if value is None:
            return f"NOT within {2 * bound:.0f} s (bound {bound:.0f} s)"
        return f"{value} s (bound {bound:.0f} s){'' if value <= bound else '  OVER THE BOUND'}"

    verdict = "SKIPPED" if result.skipped else "PASSED" if result.passed else "FAILED"
    lines = [
        f"drill {result.scenario}: {verdict}",
        f"  fault:      {result.fault}",
        f"  expected:   {result.expected}",
    ]
    if result.skipped or result.error:
        lines.append(f"  {'why' if result.skipped else 'error'}:{' ' * 6}{result.skipped or result.error}")
    else:
        lines += [
            f"  notified:   {seconds(result.notified_after_seconds, result.notify_bound_seconds)} after the fault",
            f"  resolved:   {seconds(result.resolved_after_seconds, RESOLVE_WITHIN)} after healing",
            f"  unexpected: {', '.join(result.unexpected) or 'none'}",
        ]
        if result.also_fired:
            lines.append(f"  also fired (the same fault explains them): {', '.join(result.also_fired)}")
        if result.already_active:
            lines.append(f"  left out, active before the drill: {', '.join(result.already_active)}")
        if result.traffic:
            lines.append("  traffic:    " + ", ".join(f"{s}: {n}" for s, n in result.traffic.items()))
    if result.profile is not None:
        head, *rest = profiles.summary(result.profile)
        lines += [f"  profile:    {head}", *(f"              {line}" for line in rest)]
    elif result.profile_error is not None:
        lines.append(f"  profile:    not taken ({result.profile_error})")
    if result.started is not None:
        if result.budget_spent is None:
            lines.append("  budget:     not measured")
        else:
            lines.append(
                f"  budget:     {spent.line(result.budget_spent)} (spent, of the {SLO_PERIOD} budget)"
            )
    return "\n".join(lines)


@dataclass
class QuietResult:
    duration_seconds: float
    rps: float
    sent: int
    fired: list[str] = field(default_factory=list)  # notified while or after the load ran
    pending: list[str] = field(default_factory=list)  # pending or firing in Prometheus when it ended
    already_active: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.fired and not self.pending

    def as_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def quiet(target: Target, duration: float, rps: float) -> QuietResult:
    """Normal traffic (`airscope load`) for ``duration``, then as long as the longest local `for` of
    the request alerts: no alert may fire or be pending that was not active before."""
    already = _before(target)
    seen = {key(labels) for labels in already}
    result = QuietResult(duration, rps, 0, already_active=_shown(already))
    notifications = Notifications(alert_receiver.notifications_file())
    _say(f"quiet: {rps} actions/s for {duration:.0f} s through the gateway; no alert may fire")
    result.sent = load.send(target.url("api-gateway"), target.plat.api_key, rps, duration).sent
    _say(f"  load done ({result.sent} requests); watching {QUIET_SETTLE:.0f} s more ...")
    deadline = time.monotonic() + QUIET_SETTLE
    while time.monotonic() < deadline:
        for notified in notifications.new():
            name = describe(notified.labels)
            if notified.status == "firing" and key(notified.labels) not in seen and name not in result.fired:
                result.fired.append(name)
                _say(f"  fired: {name}")
        time.sleep(1)
    rules = rule_alerts(target.url("prometheus"))
    result.pending = [describe(labels) for labels in rules if key(labels) not in seen]
    return result


def render_quiet(result: QuietResult) -> str:
    lines = [
        f"drill quiet: {'PASSED' if result.passed else 'FAILED'}",
        f"  load:       {result.rps} actions/s for {result.duration_seconds:.0f} s, {result.sent} requests",
        f"  fired:      {', '.join(result.fired) or 'none'}",
        f"  pending:    {', '.join(result.pending) or 'none'}",
    ]
    if result.already_active:
        lines.append(f"  left out, active before: {', '.join(result.already_active)}")
    return "\n".join(lines)
