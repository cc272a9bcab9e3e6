"""``airscope status`` and ``airscope alerts``: the local platform as an operator checks it first.

Health comes from each instance's own /health; up, traffic, errors and latency from Prometheus
(what the alerts see); alerts from Alertmanager and the notifications its local receiver kept; the
alert pipeline's health from the Watchdog's heartbeats at that receiver (docs/meta-monitoring.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import httpx

from airscope.local import alert_receiver, runner
from airscope.promapi import Alertmanager, PromAPIError, Prometheus
from airscope.stack import rules
from airscope.stack.rules_meta import WATCHDOG
from airscope.units import format_duration

TIMEOUT = 3.0  # a status that hangs is worse than one that says what did not answer

WINDOW = "1m"  # short: status answers "now", the dashboards and alerts use 5m
DURATION = "http_server_request_duration_seconds"
# Users' requests only, as the alerts count them: the probes and scrapes left out (rules.SERVED).
SERVED = rules.SERVED
FAILED = rules.FAILED
QUERIES = {
    "up": 'up{job="services"}',
    # `or ... * 0`: an instance up but with no user request yet has no request series: 0 req/s, not "-".
    "rps": (
        f"sum by (instance) (rate({DURATION}_count{{{SERVED}}}[{WINDOW}]))"
        f' or sum by (instance) (up{{job="services"}}) * 0'
    ),
    # `or ... * 0`: an instance that never answered a 5xx has no such series, and its ratio is 0. With
    # no request in the window there is no ratio (0/0): "-".
    "errors": (
        f'(sum by (instance) (rate({DURATION}_count{{{SERVED}, status=~"{FAILED}"}}[{WINDOW}]))'
        f" or sum by (instance) (rate({DURATION}_count{{{SERVED}}}[{WINDOW}])) * 0)"
        f" / sum by (instance) (rate({DURATION}_count{{{SERVED}}}[{WINDOW}]))"
    ),
    "p95": f"histogram_quantile(0.95, sum by (instance, le) (rate({DURATION}_bucket{{{SERVED}}}[{WINDOW}])))",
}


# What airtable-gateway saves of Airtable's 5 requests/s per base (its dashboard: airscope-airtable).
AIRTABLE_QUERIES = {
    "calls": f"sum(rate(airtable_request_duration_seconds_count[{WINDOW}]))",
    "hit_ratio": (
        f'sum(rate(airtable_cache_requests_total{{result="hit"}}[{WINDOW}]))'
        f" / sum(rate(airtable_cache_requests_total[{WINDOW}]))"
    ),
    "coalesced": f'sum(rate(airtable_calls_saved_total{{reason="coalesced"}}[{WINDOW}]))',
    "batched": f'sum(rate(airtable_calls_saved_total{{reason="batched"}}[{WINDOW}]))',
}


@dataclass
class AirtableSavings:
    """Requests/s sent to Airtable, the share of reads the cache answered, and requests/s saved by
    single flight (coalesced) and write batches (batched); None where Prometheus has no value."""

    calls: float | None = None
    hit_ratio: float | None = None
    coalesced: float | None = None
    batched: float | None = None

    def line(self) -> str | None:
        """One line under 80 columns, or None when no airtable-gateway reports."""
        if all(value is None for value in asdict(self).values()):
            return None
        return (
            f"airtable: {_fmt(self.calls, '{:.1f}')} calls/s, cache hit "
            f"{_fmt(self.hit_ratio and self.hit_ratio * 100, '{:.0f} %')}, saved/s "
            f"{_fmt(self.coalesced, '{:.1f}')} coalesced, {_fmt(self.batched, '{:.1f}')} batched"
        )


@dataclass
class Row:
    service: str
    instance: str
    url: str
    health: str  # pass, warn, fail, or down (no answer)
    up: float | None = None
    rps: float | None = None
    error_ratio: float | None = None
    p95_seconds: float | None = None
    alerts: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.health == "pass" and self.up == 1 and not self.alerts


@dataclass(frozen=True)
class PipelineFacts:
    """What tells the broken link of the alert pipeline apart, gathered only when it is broken."""

    receiver_up: bool
    prometheus_error: str | None
    watchdog_evaluated: bool  # Prometheus has the Watchdog firing
    alertmanager_error: str | None
    watchdog_held: bool  # Alertmanager holds it
    # The heartbeat file exists under this home: a receiver answering on the port without one is
    # another home's (AIRSCOPE_HOME differs from the running platform's).
    kept_here: bool = True


def diagnose(facts: PipelineFacts) -> tuple[str, str]:
    """(the cause, the fix) of a Watchdog that does not arrive, checked from the receiver back."""
    cli = ".venv/bin/airscope"
    if not facts.receiver_up:
        return "the alert receiver is down", f"{cli} start alert-receiver"
    if not facts.kept_here:
        return "the receiver that answers keeps no heartbeat here", "set AIRSCOPE_HOME to its platform's"
    if facts.prometheus_error:
        return "Prometheus is down", f"{cli} start prometheus"
    if not facts.watchdog_evaluated:
        return "Prometheus does not evaluate the rules", f"{cli} logs -s prometheus --since 15m"
    if facts.alertmanager_error:
        return "Alertmanager is down", f"{cli} start alertmanager"
    if not facts.watchdog_held:
        return "Prometheus does not reach Alertmanager", f"{cli} logs -s prometheus --since 15m"
    return "Alertmanager does not deliver to the receiver", f"{cli} logs -s alertmanager --since 15m"


@dataclass
class PipelineReport:
    pipeline: alert_receiver.Pipeline
    cause: str | None = None
    fix: str | None = None

    def as_json(self) -> dict:
        return {
            "state": self.pipeline.state,
            "broken": self.pipeline.broken,
            "seconds": self.pipeline.seconds,
            "summary": self.pipeline.describe(),
            "cause": self.cause,
            "fix": self.fix,
        }


def render_pipeline(report: dict) -> list[str]:
    """The pipeline's lines as `status` and `alerts` print them (each under 80 columns)."""
    if report["state"] == "ok":
        return [f"alert pipeline: OK ({report['summary']})"]
    if not report["broken"]:
        return [f"alert pipeline: {report['summary']}"]
    lines = [f"alert pipeline: BROKEN, {report['summary']}"]
    if report["cause"]:
        lines += [f"  cause: {report['cause']}", f"  fix:   {report['fix']}"]
    return lines


@dataclass
class Status:
    rows: list[Row]
    prometheus: str | None  # None when it answered, else why not
    alertmanager: str | None
    firing: list[dict]
    pipeline: PipelineReport | None = None
    airtable: AirtableSavings = field(default_factory=AirtableSavings)

    @property
    def healthy(self) -> bool:
        return (
            all(row.healthy for row in self.rows)
            and self.prometheus is None
            and self.alertmanager is None
            and not self.firing
            and not (self.pipeline and self.pipeline.pipeline.broken)
        )

    def as_json(self) -> dict:
        return {
            "healthy": self.healthy,
            "services": [asdict(row) | {"healthy": row.healthy} for row in self.rows],
            "prometheus_error": self.prometheus,
            "alertmanager_error": self.alertmanager,
            "firing_alerts": self.firing,
            "alert_pipeline": self.pipeline and self.pipeline.as_json(),
            "airtable": asdict(self.airtable),
        }


def collect() -> Status:
    plat = runner.platform()
    at = plat.observability_ports
    instances = runner.load_instances(plat)
    with httpx.Client(timeout=TIMEOUT) as client:
        rows = [
            Row(service, program, f"http://127.0.0.1:{port}", _health(client, port))
            for service, members in instances.items()
            for program, port in sorted(members.items())
        ]
    prometheus_error = None
    try:
        with Prometheus(f"http://127.0.0.1:{at['prometheus']}", timeout=TIMEOUT) as prometheus:
            values = {key: prometheus.values_by(query, "instance") for key, query in QUERIES.items()}
            airtable = AirtableSavings(**{key: prometheus.value(q) for key, q in AIRTABLE_QUERIES.items()})
    except PromAPIError as exc:
        prometheus_error, values, airtable = str(exc), {}, AirtableSavings()
    firing, alertmanager_error = _firing(at["alertmanager"])
    firing, held = without_watchdog(firing)
    report = _pipeline(at, prometheus_error, alertmanager_error, held)
    for row in rows:
        row.up = values.get("up", {}).get(row.instance)
        row.rps = values.get("rps", {}).get(row.instance)
        row.error_ratio = values.get("errors", {}).get(row.instance)
        row.p95_seconds = values.get("p95", {}).get(row.instance)
        row.alerts = sorted(
            {a["labels"]["alertname"] for a in firing if a["labels"].get("service") == row.service}
        )
    return Status(rows, prometheus_error, alertmanager_error, firing, report, airtable)


def without_watchdog(firing: list[dict]) -> tuple[list[dict], bool]:
    """The firing alerts but the Watchdog, which always fires (it is the pipeline's, not a problem),
    and whether Alertmanager holds it."""
    rest = [a for a in firing if a["labels"].get("alertname") != WATCHDOG]
    return rest, len(rest) < len(firing)


def _pipeline(
    at: dict[str, int], prometheus_error: str | None, alertmanager_error: str | None, held: bool
) -> PipelineReport:
    found = alert_receiver.pipeline(alert_receiver.read_heartbeat(), datetime.now(UTC))
    if not found.broken:
        return PipelineReport(found)
    evaluated = False
    if prometheus_error is None:
        try:
            with Prometheus(f"http://127.0.0.1:{at['prometheus']}", timeout=TIMEOUT) as prometheus:
                evaluated = any(
                    a.labels.get("alertname") == WATCHDOG and a.state == "firing" for a in prometheus.alerts()
                )
        except PromAPIError as exc:
            prometheus_error = str(exc)
    with httpx.Client(timeout=TIMEOUT) as client:
        receiver_up = _health(client, at["alert-receiver"], "/health/live") == "pass"
    kept_here = found.state != "no-receiver"
    facts = PipelineFacts(receiver_up, prometheus_error, evaluated, alertmanager_error, held, kept_here)
    return PipelineReport(found, *diagnose(facts))


def _health(client: httpx.Client, port: int, path: str = "/health") -> str:
    try:
        return client.get(f"http://127.0.0.1:{port}{path}").json().get("status", "fail")
    except (httpx.HTTPError, ValueError):
        return "down"


def firing_alerts(alertmanager: Alertmanager) -> list[dict]:
    """The alerts firing and neither silenced nor inhibited, as `status --json` lists them."""
    return [
        {"labels": dict(a.labels), "annotations": dict(a.annotations), "startsAt": a.since}
        for a in alertmanager.alerts(active=True, silenced=False, inhibited=False)
    ]


def _firing(port: int) -> tuple[list[dict], str | None]:
    """The alerts firing and neither silenced nor inhibited, or none and why Alertmanager did not tell."""
    try:
        with Alertmanager(f"http://127.0.0.1:{port}", timeout=TIMEOUT) as alertmanager:
            return firing_alerts(alertmanager), None
    except PromAPIError as exc:
        return [], str(exc)


def render(status: Status) -> str:
    lines = [f"{'instance':<24} {'health':<6} {'up':>3} {'req/s':>8} {'err %':>7} {'p95':>9}  alerts"]
    for row in status.rows:
        lines.append(
            f"{row.instance:<24} {row.health:<6} {_fmt(row.up, '{:.0f}'):>3} {_fmt(row.rps, '{:.2f}'):>8} "
            f"{_fmt(row.error_ratio and row.error_ratio * 100, '{:.1f}'):>7} "
            f"{_fmt(row.p95_seconds and row.p95_seconds * 1000, '{:.0f} ms'):>9}  {', '.join(row.alerts)}"
        )
    if airtable := status.airtable.line():
        lines.append(airtable)
    for problem in (status.prometheus, status.alertmanager):
        if problem:
            lines.append(problem)
    if status.pipeline:
        lines += render_pipeline(status.pipeline.as_json())
    now = datetime.now(UTC)
    lines += [firing_line(alert, now) for alert in status.firing]
    lines.append("all healthy" if status.healthy else "NOT all healthy")
    return "\n".join(lines)


# The labels each alert line shows: which service, how bad, whose (docs/on-call.md).
SHOWN_LABELS = ("service", "severity", "owner")


def since(starts_at: str | None, now: datetime) -> str:
    """``10:58:01Z (3m ago)`` from Alertmanager's RFC 3339 ``startsAt``; the date too when not today."""
    if not starts_at:
        return "?"
    try:
        # Alertmanager writes nanoseconds; whole seconds are enough to read.
        at = datetime.fromisoformat(starts_at[:19]).replace(tzinfo=UTC)
    except ValueError:
        return starts_at
    shown = at.strftime("%H:%M:%SZ" if at.date() == now.date() else "%Y-%m-%d %H:%M:%SZ")
    return f"{shown} ({format_duration(max(0, round((now - at).total_seconds())))} ago)"


# Said by the line itself, or the same on every alert: never among the labels that tell alerts apart.
_UNSHOWN = ("alertname", "tier", "cluster", "environment", *SHOWN_LABELS)


def _labels(labels: dict) -> str:
    """service, severity and owner ("-" when absent), then any other label that tells this alert
    apart (``source=exporter``, ``scope=host``, ``window=1h``)."""
    shown = [f"{name}={labels.get(name, '-')}" for name in SHOWN_LABELS]
    shown += [f"{name}={value}" for name, value in sorted(labels.items()) if name not in _UNSHOWN]
    return " ".join(shown)


def firing_line(alert: dict, now: datetime) -> str:
    """``FIRING ServiceDown service=api-gateway severity=critical owner=platform-team``, then on a
    line of its own ``  since ...: summary``: one line would wrap at 80 columns."""
    labels = alert["labels"]
    return (
        f"FIRING {labels.get('alertname', '?')} {_labels(labels)}\n"
        f"  since {since(alert.get('startsAt'), now)}: {alert.get('annotations', {}).get('summary', '')}"
    )


def notification_lines(kept: dict, now: datetime) -> list[str]:
    """One line per alert of a kept notification: when it came, to which receiver, the alert's status,
    name, labels and since when it fires."""
    lines = []
    received = since(kept["received_at"], now).split(" (")[0]  # the clock time, the date when not today
    for alert in kept["notification"].get("alerts", []):
        labels = alert.get("labels", {})
        started = since(alert.get("startsAt"), now).split(" (")[0]
        # Two lines each, to fit 80 columns: who got what, then which and since when.
        lines.append(
            f"  {received} {kept['receiver']:<20} {alert.get('status', '?'):<8} {labels.get('alertname', '?')}"
        )
        lines.append(f"      {_labels(labels)} since {started}")
    return lines


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def alerts() -> dict:
    """Firing alerts (Alertmanager) but the Watchdog, every notification the local receiver kept, and
    whether the Watchdog arrives (the alert pipeline works)."""
    at = runner.platform().observability_ports
    firing, error = _firing(at["alertmanager"])
    firing, held = without_watchdog(firing)
    return {
        "firing": firing,
        "alertmanager_error": error,
        "notifications": alert_receiver.read(),
        "alert_pipeline": _pipeline(at, None, error, held).as_json(),
    }
