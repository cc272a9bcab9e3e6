"""``airscope status`` and ``airscope alerts``: the local platform as an operator checks it first.

Health comes from each instance's own /health; up, traffic, errors and latency from Prometheus
(what the alerts see); alerts from Alertmanager and the notifications its local receiver kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import httpx

from airscope.local import alert_receiver, runner
from airscope.promapi import Alertmanager, PromAPIError, Prometheus

TIMEOUT = 3.0  # a status that hangs is worse than one that says what did not answer

WINDOW = "1m"  # short: status answers "now", the dashboards and alerts use 5m
DURATION = "http_server_request_duration_seconds"
QUERIES = {
    "up": 'up{job="services"}',
    "rps": f'sum by (instance) (rate({DURATION}_count{{job="services"}}[{WINDOW}]))',
    # `or ... * 0`: an instance that never answered a 5xx has no such series, and its ratio is 0.
    "errors": (
        f'(sum by (instance) (rate({DURATION}_count{{job="services", status=~"5.."}}[{WINDOW}]))'
        f' or sum by (instance) (rate({DURATION}_count{{job="services"}}[{WINDOW}])) * 0)'
        f' / sum by (instance) (rate({DURATION}_count{{job="services"}}[{WINDOW}]))'
    ),
    "p95": f'histogram_quantile(0.95, sum by (instance, le) (rate({DURATION}_bucket{{job="services"}}[{WINDOW}])))',
}


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


@dataclass
class Status:
    rows: list[Row]
    prometheus: str | None  # None when it answered, else why not
    alertmanager: str | None
    firing: list[dict]

    @property
    def healthy(self) -> bool:
        return (
            all(row.healthy for row in self.rows)
            and self.prometheus is None
            and self.alertmanager is None
            and not self.firing
        )

    def as_json(self) -> dict:
        return {
            "healthy": self.healthy,
            "services": [asdict(row) | {"healthy": row.healthy} for row in self.rows],
            "prometheus_error": self.prometheus,
            "alertmanager_error": self.alertmanager,
            "firing_alerts": self.firing,
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
    except PromAPIError as exc:
        prometheus_error, values = str(exc), {}
    firing, alertmanager_error = _firing(at["alertmanager"])
    for row in rows:
        row.up = values.get("up", {}).get(row.instance)
        row.rps = values.get("rps", {}).get(row.instance)
        row.error_ratio = values.get("errors", {}).get(row.instance)
        row.p95_seconds = values.get("p95", {}).get(row.instance)
        row.alerts = sorted(
            {a["labels"]["alertname"] for a in firing if a["labels"].get("service") == row.service}
        )
    return Status(rows, prometheus_error, alertmanager_error, firing)


def _health(client: httpx.Client, port: int) -> str:
    try:
        return client.get(f"http://127.0.0.1:{port}/health").json().get("status", "fail")
    except (httpx.HTTPError, ValueError):
        return "down"


def _firing(port: int) -> tuple[list[dict], str | None]:
    """The alerts firing and neither silenced nor inhibited, or none and why Alertmanager did not tell."""
    try:
        with Alertmanager(f"http://127.0.0.1:{port}", timeout=TIMEOUT) as alertmanager:
            found = alertmanager.alerts(active=True, silenced=False, inhibited=False)
    except PromAPIError as exc:
        return [], str(exc)
    return [
        {"labels": dict(a.labels), "annotations": dict(a.annotations), "startsAt": a.since} for a in found
    ], None


def render(status: Status) -> str:
    lines = [f"{'instance':<24} {'health':<6} {'up':>3} {'req/s':>8} {'err %':>7} {'p95':>9}  alerts"]
    for row in status.rows:
        lines.append(
            f"{row.instance:<24} {row.health:<6} {_fmt(row.up, '{:.0f}'):>3} {_fmt(row.rps, '{:.2f}'):>8} "
            f"{_fmt(row.error_ratio and row.error_ratio * 100, '{:.1f}'):>7} "
            f"{_fmt(row.p95_seconds and row.p95_seconds * 1000, '{:.0f} ms'):>9}  {', '.join(row.alerts)}"
        )
    for problem in (status.prometheus, status.alertmanager):
        if problem:
            lines.append(problem)
    for alert in status.firing:
        labels = alert["labels"]
        where = f" ({labels['service']})" if labels.get("service") else ""
        lines.append(
            f"FIRING {labels['alertname']}{where} [{labels.get('severity', '?')}]: "
            f"{alert['annotations'].get('summary', '')}"
        )
    lines.append("all healthy" if status.healthy else "NOT all healthy")
    return "\n".join(lines)


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def alerts() -> dict:
    """Firing alerts (Alertmanager) and every notification the local receiver kept."""
    firing, error = _firing(runner.platform().observability_ports["alertmanager"])
    return {"firing": firing, "alertmanager_error": error, "notifications": alert_receiver.read()}
