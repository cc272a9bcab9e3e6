"""The watchers' alerts (group ``airscope-meta``): the alerting pipeline itself, the scrapes every other
alert reads, the notifications, the rules, remote write to Mimir, the telemetry the services drop
and the outside probes. docs/meta-monitoring.md says what watches what.

Without these, a dead node-exporter silences DiskSpaceLow and host memory, an empty PagerDuty key
loses every page, and a stopped Alertmanager looks exactly like a quiet night.
"""

from __future__ import annotations

from airscope.catalog import INFRA_TEAM, Catalog
from airscope.stack import prometheus, settings
from airscope.stack.alert_rule import alert
from airscope.stack.settings import COMPOSE, SERVICES_JOB, Profile, alert_for

GROUP = "airscope-meta"
WATCHDOG = "Watchdog"
PROMETHEUS_JOB, ALERTMANAGER_JOB = "prometheus", "alertmanager"
# Local Prometheus remote-writes to no Mimir: these exist in the compose rules only.
COMPOSE_ONLY = ("PrometheusRemoteWriteFailing", "PrometheusRemoteWriteBehind")

# What goes unwatched while Prometheus cannot scrape a job: the reason each TargetDown matters.
BLINDS = {
    "node": 'DiskSpaceLow and HighMemoryUsage{scope="host"} cannot fire: the host\'s disks and memory '
    "are unwatched.",
    "cadvisor": "per-container CPU, memory, restarts and OOM kills are not collected.",
    "redis": 'RedisConnectionFailure{source="exporter"} cannot fire: Redis itself is unwatched.',
    "postgres": 'DatabaseConnectionFailure{source="exporter"} cannot fire: PostgreSQL itself is unwatched.',
    "blackbox": "ProbeFailing cannot fire: no service's /health/live is probed from outside.",
    "prometheus": "Prometheus' own metrics are not scraped: PrometheusRuleFailures and the remote-write "
    "alerts cannot fire.",
    "alertmanager": "AlertmanagerNotificationsFailing cannot fire; if Alertmanager itself is down no "
    "notification leaves at all, and the dead man's switch misses the Watchdog.",
    "grafana": "the dashboards are unavailable to whoever answers the other alerts.",
    "loki": "logs are neither stored nor searchable; Alloy holds them a while, then drops them.",
    "alloy": "no log, trace or browser telemetry reaches Loki and Tempo; the services drop what they "
    "cannot export (TelemetryDropped).",
    "tempo": "traces are not stored; the service map and span metrics stop.",
    "pyroscope": "no CPU profile is stored: the services' pushes fail (without slowing them), the "
    "traces' Profiles links and the Pyroscope datasource show a gap.",
    "mimir": "the long-term store takes nothing: remote write falls behind (PrometheusRemoteWriteBehind) "
    "and dashboards reading Mimir show a gap.",
}
UNLISTED = "the alerts and dashboards that read its metrics see nothing."


def target_jobs(catalog: Catalog, profile: Profile) -> list[str]:
    """Every job the profile's Prometheus scrapes but the services' (ServiceDown watches those): read
    from the generated prometheus.yml itself, so a job added there is watched here too."""
    config = prometheus.compose(catalog) if profile is COMPOSE else prometheus.local(catalog)
    # Sorted: the two profiles list their jobs in different orders, their rules come in one.
    return sorted(job["job_name"] for job in config["scrape_configs"] if job["job_name"] != SERVICES_JOB)


def _watchdog(profile: Profile) -> dict:
    return alert(
        WATCHDOG,
        "vector(1)",
        alert_for(WATCHDOG, profile),
        # warning, like every alert that is not a page; its own route (alertmanager.py) sends it to the
        # dead man's switch only, and no inhibition names it.
        "warning",
        "The alerting pipeline works: this alert always fires",
        "Always firing, on purpose: it reaching the dead man's switch proves that Prometheus evaluates "
        "rules and Alertmanager routes and sends notifications. The switch alarms when it stops coming.",
        owner=INFRA_TEAM,
    )


def _target_down(job: str, profile: Profile) -> dict:
    for_ = alert_for("TargetDown", profile)
    # absent(): a job whose targets vanish (an empty file_sd file, a static target dropped from the
    # config) has no `up` series at all, and `== 0` alone would never see it.
    return alert(
        "TargetDown",
        f'max by (job) (up{{job="{job}"}}) == 0\nor\nabsent(up{{job="{job}"}})',
        for_,
        "warning",
        "Prometheus cannot scrape {{ $labels.job }}",
        f"While it is down, {BLINDS.get(job, UNLISTED)} Prometheus has scraped no target of job {job} "
        f"for {for_}.",
        owner=INFRA_TEAM,
        # The job as a rule label too: each rule is told apart in the rule tests and in local mode.
        job=job,
    )


def _notifications_failing(profile: Profile) -> dict:
    window = settings.NOTIFICATIONS_FAILED_WINDOW
    return alert(
        "AlertmanagerNotificationsFailing",
        f"sum by (integration) (increase(alertmanager_notifications_failed_total"
        f'{{job="{ALERTMANAGER_JOB}"}}[{window}])) > 0',
        alert_for("AlertmanagerNotificationsFailing", profile),
        # critical so that it goes to both receivers: when one integration fails (an empty PagerDuty
        # key), the other one (Slack) still tells someone.
        "critical",
        "Alertmanager fails to send notifications through {{ $labels.integration }}",
        f"Over the last {window} Alertmanager gave up on {{{{ $value | humanize }}}} notification(s) "
        "through {{ $labels.integration }} after its retries: an alert reached no one that way.",
        owner=INFRA_TEAM,
    )


def _rule_failures(profile: Profile) -> dict:
    return alert(
        "PrometheusRuleFailures",
        "sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total"
        f'{{job="{PROMETHEUS_JOB}"}}[5m])) > 0',
        alert_for("PrometheusRuleFailures", profile),
        # A rule that cannot be evaluated is an alert that cannot fire: as serious as the alert.
        "critical",
        "Prometheus fails to evaluate rules of {{ $labels.rule_group }}",
        "{{ $value | humanize }} evaluations of the rules of {{ $labels.rule_group }} failed over the "
        "last 5 minutes: those alerts and recorded series are missing while it lasts.",
        owner=INFRA_TEAM,
    )


def _remote_write() -> list[dict]:
    selector = f'{{job="{PROMETHEUS_JOB}"}}'
    failed = f"sum by (remote_name, url) (rate(prometheus_remote_storage_samples_failed_total{selector}[5m]))"
    sent = f"sum by (remote_name, url) (rate(prometheus_remote_storage_samples_total{selector}[5m]))"
    ratio, behind = settings.REMOTE_WRITE_FAILED_RATIO, settings.REMOTE_WRITE_BEHIND_SECONDS

    def newest(metric: str) -> str:
        # max_over_time: a failed self-scrape must not hide the lag (the prometheus-mixin's reason).
        return f"max by (remote_name, url) (max_over_time(prometheus_remote_storage_{metric}{selector}[5m]))"

    # Warnings: Mimir holds the history past Prometheus' 31 days; a gap there hurts capacity planning,
    # not users, and Prometheus keeps every sample locally meanwhile.
    return [
        alert(
            "PrometheusRemoteWriteFailing",
            f"(\n  {failed}\n/\n  ({failed} + {sent})\n) > {ratio}",
            alert_for("PrometheusRemoteWriteFailing", COMPOSE),
            "warning",
            "Mimir refuses {{ $value | humanizePercentage }} of the samples Prometheus writes",
            f"More than {ratio:.0%} of the samples remote-written to {{{{ $labels.url }}}} over 5 minutes "
            "failed for good (refused, not retried): the long-term store has holes.",
            owner=INFRA_TEAM,
        ),
        alert(
            "PrometheusRemoteWriteBehind",
            f"{newest('queue_highest_timestamp_seconds')}\n-\n"
            f"{newest('queue_highest_sent_timestamp_seconds')}\n> {behind}",
            alert_for("PrometheusRemoteWriteBehind", COMPOSE),
            "warning",
            "Remote write to Mimir is {{ $value | humanizeDuration }} behind",
            f"The newest sample Mimir took ({{{{ $labels.url }}}}) is more than {behind} s older than the "
            "newest one queued for it: Mimir is down, slow or refusing, and Prometheus' WAL (about "
            "2 hours) is all it can catch up from.",
            owner=INFRA_TEAM,
        ),
    ]


def _telemetry_dropped(profile: Profile) -> dict:
    short = profile.short_window

    def dropping(window: str) -> str:
        return (
            f'sum by (service, signal) (rate(telemetry_dropped_total{{job="{SERVICES_JOB}"}}[{window}])) > 0'
        )

    return alert(
        "TelemetryDropped",
        f"{dropping('5m')}\nand on (service, signal)\n{dropping(short)}",
        alert_for("TelemetryDropped", profile),
        "warning",
        "{{ $labels.service }} drops its {{ $labels.signal }}",
        "The telemetry kit of {{ $labels.service }} gives up on {{ $labels.signal }} it cannot hand on "
        f"(a full or failing exporter, a stdout no one reads), over 5 minutes and over the last {short}, "
        'at {{ printf "%.2f" $value }} a second: that part of the picture is missing.',
    )


def _probe_failing(profile: Profile) -> dict:
    for_ = alert_for("ProbeFailing", profile)
    return alert(
        "ProbeFailing",
        # Only while the service answers its scrapes: a dead process fails both, and ServiceDown is
        # the alert for that.
        f'min by (service) (probe_success{{job="{settings.BLACKBOX_JOB}"}}) == 0\n'
        f"and on (service)\n{settings.SERVICE_UP} == 1",
        for_,
        "warning",
        "{{ $labels.service }} fails its probe from outside",
        "The blackbox exporter's request to /health/live of {{ $labels.service }} fails although "
        "Prometheus still scrapes its metrics: the health endpoint itself fails, or the path to the "
        f"service by its name (the one its callers use) does, for {for_}.",
    )


def meta_group(catalog: Catalog, profile: Profile) -> dict:
    rules = [
        _watchdog(profile),
        *(_target_down(job, profile) for job in target_jobs(catalog, profile)),
        _notifications_failing(profile),
        _rule_failures(profile),
        *(_remote_write() if profile is COMPOSE else []),
        _telemetry_dropped(profile),
        _probe_failing(profile),
    ]
    return {"name": GROUP, "rules": rules}
