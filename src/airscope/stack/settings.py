"""The stack's one config: every interval, threshold, image, port and shared name, each with its reason.

Like a monitoring mixin's config file: the generators read these and the catalog, nothing else, so
a value changes in one place and every file that uses it follows.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- profiles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    environment: str  # the `environment` external label and log label
    scrape_interval: str
    evaluation_interval: str
    # Alertmanager grouping: how long to wait for more alerts of a new group, and between updates.
    group_wait: str
    group_interval: str
    repeat_interval_critical: str
    repeat_interval_warning: str
    # The short window HighErrorRate and HighLatency must also exceed their threshold over (the SRE
    # workbook's multi-window idea): a 5m window alone keeps an alert firing for minutes after the
    # fault is gone. Four scrapes or more, so that rate() has samples to work with.
    short_window: str


# Production: 15 s is Prometheus' customary interval, fine enough for 5m rate windows (20 samples).
COMPOSE = Profile("compose", "production", "15s", "15s", "30s", "5m", "1h", "4h", "1m")
# Local: 5 s so that `make up`, `airscope status` and the drills see a change within seconds; one
# fault's alerts turn pending together, so 2 s of grouping is enough, and a resolution is told
# within 10 s.
LOCAL = Profile("local", "local", "5s", "5s", "2s", "10s", "1h", "4h", "30s")
PROFILES = (COMPOSE, LOCAL)

CLUSTER = "airscope"  # the `cluster` external label: tells this deployment's series apart in Mimir

# --- pinned images (compose) ----------------------------------------------------------------------
# Exact versions, never `latest`: a redeploy must not change what runs. Sources in docs/deployment.md.
IMAGES = {
    # The patch release too: `3.11-slim-bookworm` moves with every Python and Debian update, so two
    # builds of one commit could differ. 3.11.17 is the newest 3.11 published with a bookworm variant
    # found (docker-library's library/python lists 3.11.16-slim-bookworm in August 2026; 3.11.17 is
    # pinned by digest in public Dockerfiles since).
    "python": "python:3.11.17-slim-bookworm",
    "postgres": "postgres:15.14-bookworm",
    "redis": "redis:7.4.6-bookworm",
    "prometheus": "prom/prometheus:v3.14.0",
    "alertmanager": "prom/alertmanager:v0.34.1",
    "grafana": "grafana/grafana:13.2.3",
    "loki": "grafana/loki:3.7.6",
    "alloy": "grafana/alloy:v1.18.1",
    # 2.x keys and the 2.x image: Tempo 3.0 removed the ingester and compactor blocks this config uses.
    "tempo": "grafana/tempo:2.10.8",
    "jaeger": "jaegertracing/jaeger:2.20.0",
    "mimir": "grafana/mimir:3.1.4",
    # 2.2 or later: its distributor keeps the trace_id sample label the kit's span processor sends off
    # the series (grafana/pyroscope#5220), where it would make a series a trace.
    "pyroscope": "grafana/pyroscope:2.2.1",
    "node-exporter": "prom/node-exporter:v1.9.1",
    # Published on ghcr.io since v0.53; gcr.io has nothing newer (google/cadvisor#3696, #3806). v0.54
    # reads Docker 29's containerd image store; v0.60 builds against a Docker client that negotiates
    # the API version (google/cadvisor#3749, #3709).
    # checks/compose_rules.KNOWN_BAD refuses the versions that collect nothing on Docker Engine 29.
    "cadvisor": "ghcr.io/google/cadvisor:v0.60.6",
    "redis-exporter": "oliver006/redis_exporter:v1.77.0",
    "postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.18.1",
    "blackbox-exporter": "prom/blackbox-exporter:v0.27.0",
}

# --- ports inside the compose network ---------------------------------------------------------------
PORTS = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "loki": 3100,
    "alloy": 12345,
    "otlp-grpc": 4317,  # Alloy's OTLP receiver (services export there), Tempo's and Jaeger's too
    "otlp-http": 4318,
    "faro": 12347,  # Alloy's faro.receiver: the frontend forwards its users' browser telemetry there
    "tempo": 3200,
    "jaeger": 16686,
    "mimir": 9009,
    "pyroscope": 4040,  # the services push profiles, Grafana queries, Prometheus scrapes: one port
    "node-exporter": 9100,
    "cadvisor": 8080,
    "redis-exporter": 9121,
    "postgres-exporter": 9187,
    "blackbox-exporter": 9115,
}

# --- Prometheus jobs (the `job` label; rules and dashboards select on these) ----------------------
SERVICES_JOB = "services"  # every instance of every catalog service; carries `service`
# The telemetry kit's own routes (telemetry/_instrument.py serves them on every service): Prometheus'
# scrapes and the health probes arrive every few seconds whatever users do, and the local switches are
# a drill's or an operator's calls (a memory profile's lasts its whole window). Left out of the
# service-level RED and SLI rules, as the bench leaves them out of its figures (bench/platform.py reads
# this): counted, they would dilute a service's 5xx ratio, pull its p95 down to the few milliseconds a
# probe takes (or up to a profile's minute), and make an idle service look busy. A dead service is
# ServiceDown's and ProbeFailing's.
KIT_ROUTES = (
    "/metrics",
    "/health",
    "/health/live",
    "/health/ready",
    "/_drill/memory",
    "/_drill/cpu",
    "/_profile/memory",
)
# The `status` values that count as a failed request in every error ratio, SLI and alert: the 5xx, and
# 499 (nginx's "client closed request"), which the kit records when the caller left before the answer.
# Without 499 a meltdown where clients give up while servers answer 200 long after looked healthy.
FAILED_STATUS = "5..|499"
EXPORTER_JOBS = {
    "node": "node-exporter",
    "cadvisor": "cadvisor",
    "redis": "redis-exporter",
    "postgres": "postgres-exporter",
}
BLACKBOX_JOB = "blackbox"  # probes every service's /health/live from outside the process
BLACKBOX_MODULE = "http_2xx"  # the blackbox exporter module those probes use
STACK_JOBS = ("prometheus", "alertmanager", "grafana", "loki", "alloy", "tempo", "mimir", "pyroscope")

# Container labels that put a compose container into the `services` job (docker_sd). Docker label
# names are sanitised for Prometheus: `airscope.service` becomes
# `__meta_docker_container_label_airscope_service`.
SCRAPE_LABEL = "airscope.scrape"
SERVICE_LABEL = "airscope.service"
METRICS_PORT_LABEL = "airscope.metrics-port"
NETWORK = "airscope"  # the compose network; targets are addressed by their IP on it
# Compose's project name: container and volume names, and the com.docker.compose.project label.
COMPOSE_PROJECT = "airscope"
# The container labels cAdvisor keeps on its series (as container_label_<label, . as _>): the
# containers dashboard selects this project's containers by them. Only these: the others (config
# hashes, versions) change with each deployment and would start new series.
CADVISOR_LABELS = ("com.docker.compose.project", "com.docker.compose.service")
# The compose network's addresses, fixed so that the api-gateway can trust X-Forwarded-For from the
# frontend alone (the address its per-client limits see); change it if it collides with a host network.
NETWORK_SUBNET = "172.28.0.0/24"
# Docker reserves no fixed address: it hands a container without one the first free address of its
# pool, so a fixed address inside the pool is taken by whichever container starts first (the
# frontend starts last, after twenty others). The dynamic addresses come from this upper half only;
# fixed ones live in the lower half, outside it (`airscope check` refuses one inside).
NETWORK_DYNAMIC_RANGE = "172.28.0.128/25"
# Named, so that it stays the subnet's first address whatever range the dynamic ones come from.
NETWORK_GATEWAY = "172.28.0.1"
FRONTEND_ADDRESS = "172.28.0.10"

# --- retention -------------------------------------------------------------------------------------
# The SLO period and a day: the error budget is summed inside Prometheus over SLO_PERIOD (a shorter
# retention would quietly shrink the budget's window). Mimir keeps the long term.
PROMETHEUS_RETENTION_TIME = "31d"
PROMETHEUS_RETENTION_SIZE = "10GB"  # whichever comes first
LOKI_RETENTION = "744h"  # 31 days: a month of incidents is searchable
TRACE_RETENTION = "336h"  # 14 days of traces (Tempo's default)
MIMIR_RETENTION = "8760h"  # a year of metrics for capacity planning
# 14 days, as traces: a span's *Profiles* link needs both, and two weeks hold this week's profiles
# and last week's to compare (a flame graph diff across a release).
PROFILE_RETENTION = "336h"

# --- recording rules: the names dashboards and alerts share ----------------------------------------
RATE_WINDOW = "5m"
QUANTILES = ("0.5", "0.95", "0.99")
REQUESTS_RATE = "service:http_server_requests:rate5m"
ERRORS_RATIO = "service:http_server_errors:ratio_rate5m"  # share of 5xx answers
LATENCY_QUANTILE = "service:http_server_request_duration_seconds:histogram_quantile5m"  # {quantile}
ROUTE_REQUESTS_RATE = "service_route:http_server_requests:rate5m"
ROUTE_ERRORS_RATIO = "service_route:http_server_errors:ratio_rate5m"
ROUTE_LATENCY_QUANTILE = "service_route:http_server_request_duration_seconds:histogram_quantile5m"
SERVICE_UP = "service:up:max"  # 1 while at least one instance of the service answers scrapes

# SLOs. Windows of the multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5, table 5-8)
# over a 30-day budget: (severity, long window, short window, burn-rate factor, for).
# The `for`s are the kubernetes-mixin's (its API server SLO alerts), each about 1/24 of the long window,
# half the short one. What they buy: the short window (1/12 of the long) says the burn is still going on;
# the `for` says it has gone on at the factor for that long, so a burn that reaches the factor for a
# moment (a ratio hovering at the threshold) does not page. What they do not buy: a burst strong enough
# holds the short window above the factor for the window's whole length, longer than the `for`, so
# no `for` here keeps a burst, or a few 5xx on a quiet service, from firing. What they cost: `for` x
# factor of the budget before the alert fires, 0.07% (1h), 0.2% (6h), 0.4% (1d and 3d) of 30 days.
# One more job for the page of 2m: it is HighErrorRate's own `for`, so the owner's chat hears of the
# errors (HighErrorRate, a warning) before the page mutes that warning (alertmanager.py's inhibition),
# and the local error drill measures that path instead of which alert won a race.
SLO_PERIOD = "30d"
BURN_RATE_ALERTS = (
    ("critical", "1h", "5m", 14.4, "2m"),  # 2% of the budget in an hour
    ("critical", "6h", "30m", 6, "15m"),  # 5% in six hours
    ("warning", "1d", "2h", 3, "1h"),  # 10% in a day
    ("warning", "3d", "6h", 1, "3h"),  # 10% in three days
)
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLIS = ("availability", "latency")


def slo_errors_ratio(sli: str, window: str) -> str:
    """The share of bad events of an SLI over a window, by service."""
    return f"service:slo_{sli}_errors:ratio_rate{window}"


def slo_objective(sli: str) -> str:
    return f"service:slo_{sli}:objective"


def slo_burn_rate(sli: str, window: str) -> str:
    return f"service:slo_{sli}:burn_rate{window}"


def slo_requests_rate(window: str) -> str:
    """Requests a second over a window, probes excluded: the burn-rate alerts' floor reads it."""
    return f"service:slo_requests:rate{window}"


# The budget over the SLO period (and any calendar month) counts events, not averages of ratios: each
# SLO_BUDGET_STEP the bad and all requests of that step are recorded per service (each counter's
# difference since the previous evaluation, so consecutive steps tile time without overlap), and a
# period's figures are sums of those over the period. A sliding 5m rate summed instead would count the last
# five minutes' requests only partly, which a drill's own failures fall in. Sums of a minute's
# counts over 30 days read about 130 k samples a service: well under a second.
SLO_BUDGET_STEP = "1m"
SLO_BUDGET_GROUP = "airscope-slo-budget"


def slo_step_requests() -> str:
    """Requests of the last SLO_BUDGET_STEP, by service (probes excluded)."""
    return f"service:slo_requests:increase{SLO_BUDGET_STEP}"


def slo_step_errors(sli: str) -> str:
    """Bad requests of an SLI over the last SLO_BUDGET_STEP, by service."""
    return f"service:slo_{sli}_errors:increase{SLO_BUDGET_STEP}"


def slo_period_errors_ratio(sli: str, window: str = SLO_PERIOD, at: float | None = None) -> str:
    """The share of bad requests over a window (``30d``, a month's ``2592000s``) ending now or ``at``:
    bad requests / requests, both counted; no requests, no ratio."""
    at_ = f" @ {at:.3f}" if at is not None else ""
    return (
        f"sum by (service) (sum_over_time({slo_step_errors(sli)}[{window}]{at_}))\n/ on (service)\n"
        f"(sum by (service) (sum_over_time({slo_step_requests()}[{window}]{at_})) > 0)"
    )


def slo_budget_remaining(sli: str) -> str:
    """The share of the SLO period's error budget left: 1 untouched, 0 spent, below 0 overspent."""
    return f"service:slo_{sli}:error_budget_remaining"


LATENCY_THRESHOLD = "service:slo_latency_threshold:seconds"
# HighLatency's: the catalog's high_latency_seconds (derived from the baselines), else the SLO's.
HIGH_LATENCY_THRESHOLD = "service:high_latency_threshold:seconds"
MEMORY_LIMIT = "service:memory_limit:bytes"
# 1 per catalog service, labelled with its `owner` and `tier`: every alert about a service joins it in,
# so that Alertmanager routes by owner and the catalog stays the one place that says who owns what.
CATALOG_INFO = "service:catalog:info"
# The tier of the alerts the infra team owns (hosts, stores, the stack): each takes every service with it.
INFRA_TIER = "1"

# --- alert thresholds -------------------------------------------------------------------------------
ERROR_RATIO_THRESHOLD = 0.05  # 5% of answers are 5xx: users notice, and noise stays far below it
# HighErrorRate's floor of requests over its 5-minute window (probes excluded): with 20, one 5xx is at
# most 5%, never above the threshold, so a single failure in a quiet minute cannot fire it; below
# that a ratio is a handful of requests, not a rate. ErrorBudgetBurn still counts every failure.
HIGH_ERROR_RATE_MIN_REQUESTS = 20
# The same floor for the burn-rate alerts, which page in HighErrorRate's place: a burn counts only when
# its short window holds enough requests that one bad request is within the alert's threshold
# (requests x factor x (1 - objective) >= 1). A quiet service's single 5xx (or slow answer) at night is
# then no page, however high the ratio of one failure in a few requests; a second one can be.
DISK_FREE_WARNING = 0.15  # 15% free: days of headroom on a typical volume to act calmly
DISK_FREE_CRITICAL = 0.05  # 5% free: Prometheus, Loki and PostgreSQL fail soon
# DiskSpaceFillingUp (kube-prometheus' NodeFilesystemSpaceFillingUp): the last DISK_FILL_TREND_WINDOW's
# trend (predict_linear) says the filesystem is full within the horizon, and less than the share is
# free already: (severity, full within, free below). The warning leaves a day to act in working hours;
# the critical pages while hours remain, before DiskSpaceLow's 5% (which a fast fill reaches minutes
# before the disk is full). The free-share floor keeps a big, mostly empty volume's burst of writes (a
# restore, a compaction) from alerting on a trend that has room to run.
DISK_FILL_TREND_WINDOW = "6h"
DISK_FILL_ALERTS = (("warning", "24h", 0.4), ("critical", "4h", 0.2))
MEMORY_USAGE_THRESHOLD = 0.9  # 90% of the catalog's limit: the OOM killer is one spike away
HOST_MEMORY_AVAILABLE = 0.1  # under 10% of the host's memory available
# LoginAbuse{scope="platform"}: most password logins fail, and many do. Real users get about one in
# five wrong (the load generator's mix: 27%); credential stuffing fails almost always. The rate
# floor keeps a handful of typos at a quiet hour from counting as "most".
LOGIN_FAILURE_RATIO = 0.5
LOGIN_FAILURES_PER_SECOND = 0.2  # 12 a minute, on one service
# ChatAnswersFailing: the share of answered chats whose answer reports a failure (a tool failed just
# before it, or mcp-server was unreachable). Under normal use it is a few percent at most (a user
# names a table that does not exist and the model says so); a broken tool or integration makes it
# near 100% (issue 16: every answer said "The tool list_tables failed"). 20% is far from both: one
# answer in five useless is broken, not bad luck.
CHAT_FAILURE_RATIO = 0.2
# ... and at least this many chats answered over the 5-minute window, so that one or two failed
# chats at a quiet hour (a ratio of 50% or 100% of almost nothing) do not page anyone.
CHAT_ANSWERS_MIN = 10
# --- business alerts (rules_business.py) ---
# SagasFailing (warning): a saga is compensated when a step fails for good (every done step undone,
# the user told); a few a day are users' own (a workspace name taken). Onboardings are rare, so the
# share is over 15 minutes, with a floor of 3 undone sagas: one user's retries of a bad name do not
# warn, Airtable or a step's service refusing every saga does.
SAGA_WINDOW = "15m"
SAGA_FAILURE_RATIO = 0.25
SAGA_FAILURES_MIN = 3
# QueueBacklog: the oldest waiting job of a queue. A small import or a workflow run takes seconds, so
# a job waits for a free worker seconds at most; 2 minutes means the workers are stuck, or one long
# import holds the only worker (AUTOMATION_WORKERS) while others queue behind it.
QUEUE_OLDEST_JOB_SECONDS = 120
# LLMBudgetNearlySpent: 80% of the day's budget spent leaves time to raise LLM_DAILY_BUDGET_USD (or
# find who spends it) before every chat is refused.
LLM_BUDGET_WARNING = 0.8
# MCPToolErrors, per tool: a user naming a table that does not exist or the model passing a bad
# argument makes a few percent; a broken tool or integration nearly all. A quarter is far from both;
# the floor of 10 calls in 5 minutes keeps one failed call at a quiet hour from warning.
MCP_TOOL_ERROR_RATIO = 0.25
MCP_TOOL_CALLS_MIN = 10
# AirtableRateLimited: the client-side limiter is meant to make 429s none at all, and Airtable answers
# nothing to a base for 30 s after one; 5 in 5 minutes is a pattern, not a single unlucky burst.
AIRTABLE_429_MIN = 5
# AirtableLimiterSaturated: p95 of the wait for a token of the per-base limiter. A burst of 5 leaves at
# once and the next waits up to a second; over a second at p95 means a base is asked for more than
# 5 requests/s for minutes, and every user's request to it queues (a bucket boundary of the histogram).
AIRTABLE_LIMITER_WAIT_SECONDS = 1.0
# FrontendErrors: uncaught exceptions and unhandled rejections in the UI per page view (failed API
# calls, kind="fetch", are the backend's alerts'). A working UI raises almost none; one view in
# twenty is a broken release. The floor of 20 views keeps one user's broken browser from warning.
FRONTEND_ERRORS_PER_VIEW = 0.05
FRONTEND_VIEWS_MIN = 20
# PoorWebVitals: Google's "poor" thresholds at the 75th percentile of page loads (web.dev/vitals):
# LCP above 4 s, INP above 500 ms, CLS above 0.25 (each a bucket boundary of the frontend's
# histograms). Page loads are few, so over 30 minutes, with at least 20 loads measured.
WEB_VITALS_POOR = {"LCP": 4.0, "INP": 0.5}
LAYOUT_SHIFT_POOR = 0.25
WEB_VITALS_WINDOW = "30m"
WEB_VITALS_SAMPLES_MIN = 20
# --- the watchers' thresholds (rules_meta.py) ---
# AlertmanagerNotificationsFailing looks this far back for a notification given up on: longer than
# the pager's group_interval (5m), so a receiver that fails at every flush stays firing between them.
NOTIFICATIONS_FAILED_WINDOW = "15m"
# PrometheusRemoteWriteFailing: the prometheus-mixin's 1% of samples Mimir refused for good (4xx:
# out of order, too old, limits); retried 5xx and timeouts show up as PrometheusRemoteWriteBehind.
REMOTE_WRITE_FAILED_RATIO = 0.01
# PrometheusRemoteWriteBehind: the mixin's 2 minutes between the newest sample queued and the
# newest one Mimir took (eight 15 s scrapes); far under the WAL's ~2 h that remote write catches up from.
REMOTE_WRITE_BEHIND_SECONDS = 120
# The always-firing Watchdog's own route (alertmanager.py): one heartbeat to the dead man's switch
# per WATCHDOG_INTERVAL (the route's group_interval). Its repeat_interval is below that on purpose:
# Alertmanager repeats at a flush when its last send is older than repeat_interval, and the last
# send lands a little after the previous flush, so an equal value would repeat every other flush.
# Production's switch (docs/meta-monitoring.md) is set to expect a ping every minute, with grace.
WATCHDOG_INTERVAL = {"compose": "1m", "local": "10s"}
WATCHDOG_REPEAT = {"compose": "30s", "local": "5s"}
# Local mode's receiver calls the pipeline broken after this many heartbeats missed in a row (one
# late flush is no outage), and gives a receiver that just started twice as long for its first one
# (Prometheus and Alertmanager start after it, and Prometheus evaluates once before sending).
WATCHDOG_MISSED_BEATS = 3

# How long each alert's condition must hold before it fires, per profile: (compose, local).
# Production waits out a restart or a slow scrape (each missed 15 s scrape is a quarter minute);
# local mode scrapes every 5 s and its drills prove time-to-notify, so it waits a few scrapes.
# The reason for each is in docs/alerting.md.
ALERT_FOR = {
    "ServiceDown": ("1m", "10s"),
    "DatabaseConnectionFailure": ("1m", "10s"),
    "RedisConnectionFailure": ("1m", "10s"),
    # Twice the exporter's: when the store itself is down, the exporter's alert (the cause) must be
    # firing first, or Alertmanager has nothing to inhibit the services' alerts (the symptoms) with.
    "DatabaseConnectionFailure:health_check": ("2m", "20s"),
    "RedisConnectionFailure:health_check": ("2m", "20s"),
    "HighErrorRate": ("2m", "30s"),
    "HighLatency": ("5m", "30s"),
    "HighMemoryUsage:service": ("5m", "30s"),
    "HighMemoryUsage:host": ("5m", "5m"),
    "DiskSpaceLow:warning": ("15m", "15m"),
    "DiskSpaceLow:critical": ("5m", "1m"),
    # kube-prometheus' hour: a 6-hour trend bent by a burst (a backup written, then moved away; Loki's or
    # Prometheus' compaction, whose space comes back) rights itself within one. The same locally: no
    # drill fills a disk for hours.
    "DiskSpaceFillingUp:warning": ("1h", "1h"),
    "DiskSpaceFillingUp:critical": ("1h", "1h"),
    # A client at its limit of failed logins is abuse already: warn once it persists a scrape or so.
    "LoginAbuse:client": ("1m", "10s"),
    # Failed logins everywhere (stuffing spread over many addresses): a sustained pattern, not a burst.
    "LoginAbuse:platform": ("5m", "30s"),
    # Answers reporting failures: long enough that a restart of mcp-server or airtable-gateway (a few
    # seconds of no_tools or failing tools) or a short Airtable incident does not page, short enough
    # that the platform's main feature is not broken unnoticed for long (about 10 minutes to a page,
    # with the 5-minute ratio). Locally as long as the other request alerts'.
    "ChatAnswersFailing": ("5m", "30s"),
    # The business alerts (rules_business.py). An event that should not happen (a saga undone or left
    # half done, a job given up) fires at once: waiting adds nothing, the count will not go back down.
    # EVENT_KEEP_FIRING then holds it through an incident's gaps.
    "SagasFailing:compensated": ("0s", "0s"),
    "SagasFailing:failed": ("0s", "0s"),
    "JobsDeadLettered": ("0s", "0s"),
    # Beyond the 2 minutes the threshold already waits: a backlog that lasts, not one long import.
    "QueueBacklog": ("5m", "10s"),
    # Spend only grows within a day: a minute rules out a scrape of a replica with a stale value.
    "LLMBudgetExhausted": ("1m", "10s"),
    "LLMBudgetNearlySpent": ("5m", "10s"),
    # As ChatAnswersFailing: rides out a restart of airtable-gateway or a short Airtable incident.
    "MCPToolErrors": ("5m", "30s"),
    "AirtableRateLimited": ("2m", "10s"),
    "AirtableLimiterSaturated": ("5m", "30s"),
    "FrontendErrors": ("5m", "30s"),
    # A quality trend over 30 minutes of page loads, not an outage: a quarter of an hour more.
    "PoorWebVitals": ("15m", "30s"),
    # --- the watchers' own alerts (rules_meta.py, docs/meta-monitoring.md) ---
    # Always firing by design: nothing to wait out.
    "Watchdog": ("0s", "0s"),
    # A component or exporter Prometheus cannot scrape. Production waits out a restart (an image
    # update, a redeploy) and a few missed 15 s scrapes; locally the target-down drill's bound is
    # 30 s from the stop, so a couple of 5 s scrapes.
    "TargetDown": ("5m", "10s"),
    # A notification Alertmanager gave up on (its own retries are over): one lost page is one too
    # many, so it fires a minute after the first (the minute lets a burst of failures group into one
    # alert), and stays while any failed within NOTIFICATIONS_FAILED_WINDOW.
    "AlertmanagerNotificationsFailing": ("1m", "10s"),
    # A rule that fails to evaluate is an alert that cannot fire. A few minutes ride out a failure of
    # one evaluation (a scrape landing mid-relabel, two instances briefly with the same labels).
    "PrometheusRuleFailures": ("5m", "30s"),
    # The prometheus-mixin's 15m: remote write retries on its own for minutes, and Prometheus keeps
    # the WAL (about 2 hours) to catch up from. Compose only: local mode writes to no Mimir, so its
    # value is "none" (rules_meta.py never asks for it).
    "PrometheusRemoteWriteFailing": ("15m", "none"),
    "PrometheusRemoteWriteBehind": ("15m", "none"),
    # Drops that go on (the short window too) for this long: Alloy or the log reader is down or
    # overwhelmed, not a burst the kit's buffers rode out with a few losses.
    "TelemetryDropped": ("10m", "1m"),
    # Twice ServiceDown's: a dead process fails both its scrape and its probe, and ProbeFailing only
    # counts while the scrape answers; longer than a probe's retry after a restart.
    "ProbeFailing": ("2m", "20s"),
}

# How long the exporter's connection-failure alerts keep firing once PostgreSQL or Redis is back:
# the services' own health checks (run every 10 s, then scraped and evaluated) see the return
# later, and the alerts the exporter's one inhibits would otherwise page for seconds after recovery.
DEPENDENCY_KEEP_FIRING = {"compose": "1m", "local": "20s"}
# How long the business alerts on single events (SagasFailing, JobsDeadLettered) keep firing once no
# new event came in their short window: production keeps one incident (Airtable down for ten minutes,
# a job given up every few) one notification; local mode resolves at once, so a drill measures healing.
EVENT_KEEP_FIRING = {"compose": "15m", "local": "0s"}


def alert_for(key: str, profile: Profile) -> str:
    compose, local = ALERT_FOR[key]
    return local if profile is LOCAL else compose


# Where runbook_url points: docs/runbooks/<AlertName>.md under this base. Change it to where your
# fork's docs are browsable.
RUNBOOK_BASE_URL = "https://github.com/pyairtable/airscope/blob/main/docs/runbooks"

# --- Grafana datasource uids (dashboards and datasources refer to each other by these) ---------------
DATASOURCE_UIDS = {
    "prometheus": "prometheus",
    "mimir": "mimir",
    "loki": "loki",
    "tempo": "tempo",
    "jaeger": "jaeger",
    "alertmanager": "alertmanager",
    "pyroscope": "pyroscope",
}

# Log labels Alloy sets (everything else in a line stays in the line or structured metadata).
LOG_LABELS = ("service", "level", "environment")
LOG_STRUCTURED_METADATA = ("trace_id", "span_id")
# The `level` label's closed set (the kit's level names, structlog's): Alloy maps what the stack's own
# containers and the browser write onto these, and leaves the label off a line it cannot place.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Structured metadata a line has only when its trace was kept (the line's trace_sampled): the key the
# Loki datasource's trace link reads. Not trace_id, which every line inside a span carries and which a
# query's `| json` makes a label of: a link keyed on it would end in "trace not found" nine times in ten.
LOG_SAMPLED_TRACE_ID = "sampled_trace_id"
