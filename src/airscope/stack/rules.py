"""Recording and alerting rules, from the catalog's SLOs and limits and the thresholds in ``settings``.

Recording rules name what dashboards and alerts share (level:metric:operations, Prometheus' naming
practice); alerts read them, so a panel and the alert beside it can never disagree.
"""

from __future__ import annotations

from airscope import units
from airscope.catalog import INFRA_TEAM, Catalog, Service
from airscope.stack import _yaml, rules_business, settings
from airscope.stack.alert_rule import alert as _alert
from airscope.stack.rules_meta import meta_group
from airscope.stack.settings import COMPOSE, LOCAL, SERVICES_JOB, Profile, alert_for

RECORDING_PATH = "deploy/prometheus/rules/recording.yml"
ALERTS_PATH = "deploy/prometheus/rules/alerts.yml"
# The local profile's alerts, written beside its prometheus.yml: the same rules but for their waits
# (`for`, `keep_firing_for`), the short window of the alerts that have one (Profile.short_window),
# the text that quotes them, and the alerts of what local mode does not run (rules_meta.COMPOSE_ONLY,
# TargetDown of the compose-only backends); tests/stack/test_alert_rules.py holds it to that.
LOCAL_ALERTS_PATH = "deploy/local/rules/alerts.yml"

DURATION = "http_server_request_duration_seconds"
# Users' requests: the probes and scrapes are left out of everything said of a service as a whole
# (settings.KIT_ROUTES says why). The rules by route keep them: labelled by route, they dilute
# nothing there, and a readiness probe answering 503 is worth seeing on the dashboard.
SERVED = f'job="{SERVICES_JOB}", route!~"{"|".join(settings.KIT_ROUTES)}"'
EVERY_ROUTE = f'job="{SERVICES_JOB}"'
FAILED = settings.FAILED_STATUS
REQUESTS = f"{DURATION}_count{{{SERVED}}}"
ERRORS = f'{DURATION}_count{{{SERVED}, status=~"{FAILED}"}}'


def _le(seconds: float) -> str:
    """The bucket matcher: prometheus-client writes every boundary as a float (le="1.0"), and so does
    Prometheus 3 after normalising, so one exact form matches in both 2.x and 3.x."""
    return f'le="{float(seconds)!r}"'


def _error_ratio(by: str, window: str, selector: str = SERVED) -> str:
    # A service that never answered a 5xx has no 5xx series at all: `or ... * 0` makes its ratio 0
    # (a dashboard shows 0%, not "No data") instead of no answer. One that answered no request in the
    # window has no ratio at all (`> 0` in the denominator), rather than NaN: 0/0 is no share of errors.
    errors, requests = (
        f'{DURATION}_count{{{selector}, status=~"{FAILED}"}}',
        f"{DURATION}_count{{{selector}}}",
    )
    return (
        f"(\n  sum by ({by}) (rate({errors}[{window}]))\nor\n  sum by ({by}) (rate({requests}[{window}])) * 0\n)\n"
        f"/\n(sum by ({by}) (rate({requests}[{window}])) > 0)"
    )


def _red(by: str, prefix: str) -> list[dict]:
    names = {
        "service": (settings.REQUESTS_RATE, settings.ERRORS_RATIO, settings.LATENCY_QUANTILE),
        "service_route": (
            settings.ROUTE_REQUESTS_RATE,
            settings.ROUTE_ERRORS_RATIO,
            settings.ROUTE_LATENCY_QUANTILE,
        ),
    }[prefix]
    window = settings.RATE_WINDOW
    selector = SERVED if prefix == "service" else EVERY_ROUTE
    served = f"sum by ({by}) (rate({DURATION}_count{{{selector}}}[{window}]))"
    rate = served
    if prefix == "service":
        # A service that is up but has served no user yet (probes left out) has no request series:
        # its rate is 0, not "No data". Its ratio and quantiles below stay absent: there is none.
        rate += f'\nor\nmax by (service) (up{{job="{SERVICES_JOB}"}}) * 0'
    rules = [
        {"record": names[0], "expr": rate},
        {
            "record": names[1],
            "expr": _error_ratio(by, window, selector),
        },
    ]
    for quantile in settings.QUANTILES:
        rules.append(
            {
                "record": names[2],
                # No request in the window makes every bucket's rate 0 and the quantile NaN: `and`
                # leaves such a service out instead of recording NaN ("NaN" on a dashboard).
                "expr": (
                    f"histogram_quantile({quantile},\n"
                    f"  sum by ({by}, le) (rate({DURATION}_bucket{{{selector}}}[{window}])))\n"
                    f"and on ({by})\n"
                    f'(sum by ({by}) (rate({DURATION}_bucket{{{selector}, le="+Inf"}}[{window}])) > 0)'
                ),
                "labels": {"quantile": quantile},
            }
        )
    return rules


def _service_constants(service: Service) -> list[dict]:
    """The catalog's per-service numbers as series, so one generic rule can divide by them."""
    labels = {"service": service.name}
    values = (
        (settings.slo_objective("availability"), service.slo.availability),
        (settings.slo_objective("latency"), service.slo.latency_target),
        (settings.LATENCY_THRESHOLD, service.slo.latency_seconds),
        (settings.HIGH_LATENCY_THRESHOLD, service.alert_latency_seconds),
        (settings.MEMORY_LIMIT, service.memory_limit_mib * 1024 * 1024),
    )
    info = {
        "record": settings.CATALOG_INFO,
        "expr": "vector(1)",
        "labels": {**labels, "owner": service.owner, "tier": str(service.tier)},
    }
    return [info] + [{"record": name, "expr": f"vector({value})", "labels": labels} for name, value in values]


def _slo_ratios(catalog: Catalog) -> list[dict]:
    rules = []
    for window in settings.SLO_WINDOWS:
        rules.append(
            {
                "record": settings.slo_errors_ratio("availability", window),
                "expr": _error_ratio("service", window),
            }
        )
        # The latency threshold differs per service and is a bucket boundary: one rule each. As the
        # error ratio, none for a window without requests.
        for service in catalog.services.values():
            selector = f'{SERVED}, service="{service.name}"'
            rules.append(
                {
                    "record": settings.slo_errors_ratio("latency", window),
                    "expr": (
                        f"1 - (\n  sum by (service) (rate({DURATION}_bucket{{{selector}, "
                        f"{_le(service.slo.latency_seconds)}}}[{window}]))\n  /\n"
                        f"  (sum by (service) (rate({DURATION}_count{{{selector}}}[{window}])) > 0)\n)"
                    ),
                    "labels": {"service": service.name},
                }
            )
        rules.append(
            {
                "record": settings.slo_requests_rate(window),
                "expr": f"sum by (service) (rate({REQUESTS}[{window}]))",
            }
        )
        for sli in settings.SLIS:
            rules.append(
                {
                    "record": settings.slo_burn_rate(sli, window),
                    "expr": (
                        f"{settings.slo_errors_ratio(sli, window)}\n"
                        f"/ on (service)\n(1 - {settings.slo_objective(sli)})"
                    ),
                }
            )
    return rules


def _counted(series: str) -> str:
    """What each series counted since the step before, exactly: the difference of its samples at
    the two evaluations (the group runs every step, so the differences tile time), or its whole
    value when it is new on a target that was scraped a step ago (a route's first 5xx, a restarted
    process' series). increase() would extrapolate each step's few samples to the step's edges, a
    random error of tenths of a budget point over a month, and count a new series' first scrape only
    in part (`airscope bench slo`); it stays for the rare step with a reset (a restart), which it
    alone sees across. After a gap in scraping longer than the 5-minute lookback (Prometheus down)
    nothing of the gap is counted, and nothing twice."""
    step = settings.SLO_BUDGET_STEP
    before = f"{series} offset {step}"
    scraped = f'up{{job="{SERVICES_JOB}"}} offset {step}'
    return (
        f"(({series} - {before}) >= 0"
        f" or (increase({series}[{step}]) and ({series} < {before}))"
        f" or (({series} unless {before}) and on (job, instance) {scraped}))"
    )


def _slo_budget(catalog: Catalog) -> list[dict]:
    """Each step's requests and bad requests (settings.SLO_BUDGET_STEP says why counts), and the budget
    left over the SLO period from their sums."""
    rules = [
        {"record": settings.slo_step_requests(), "expr": f"sum by (service) {_counted(REQUESTS)}"},
        {
            "record": settings.slo_step_errors("availability"),
            "expr": f"sum by (service) {_counted(ERRORS)}\nor\nsum by (service) {_counted(REQUESTS)} * 0",
        },
    ]
    for service in catalog.services.values():
        selector = f'{SERVED}, service="{service.name}"'
        fast = f"{DURATION}_bucket{{{selector}, {_le(service.slo.latency_seconds)}}}"
        rules.append(
            {
                "record": settings.slo_step_errors("latency"),
                "expr": (
                    f"sum by (service) {_counted(f'{DURATION}_count{{{selector}}}')}\n-\n"
                    f"sum by (service) {_counted(fast)}"
                ),
                "labels": {"service": service.name},
            }
        )
    for sli in settings.SLIS:
        rules.append(
            {
                "record": settings.slo_budget_remaining(sli),
                "expr": (
                    f"1 - (\n{settings.slo_period_errors_ratio(sli)}\n)\n"
                    f"/ on (service)\n(1 - {settings.slo_objective(sli)})"
                ),
            }
        )
    return rules


def recording(catalog: Catalog) -> dict:
    constants = [rule for service in catalog.services.values() for rule in _service_constants(service)]
    return {
        "groups": [
            {
                "name": "airscope-red",
                "rules": [
                    {"record": settings.SERVICE_UP, "expr": f'max by (service) (up{{job="{SERVICES_JOB}"}})'},
                    *_red("service", "service"),
                    *_red("service, route", "service_route"),
                ],
            },
            {"name": "airscope-catalog", "rules": constants},
            # Long windows are costly and change slowly: a slower interval for this group.
            {"name": "airscope-slo", "interval": "30s", "rules": _slo_ratios(catalog)},
            {
                "name": settings.SLO_BUDGET_GROUP,
                "interval": settings.SLO_BUDGET_STEP,
                "rules": _slo_budget(catalog),
            },
        ]
    }


def _service_down(catalog: Catalog, profile: Profile) -> dict:
    # A container that is gone is not a target at all (docker_sd lists running containers), so
    # `up == 0` alone would miss it: absent() per catalog service covers that.
    absent = "\nor\n".join(
        f'absent(up{{job="{SERVICES_JOB}", service="{s.name}"}})' for s in catalog.services.values()
    )
    for_ = alert_for("ServiceDown", profile)
    return _alert(
        "ServiceDown",
        f"{settings.SERVICE_UP} == 0\nor\nmax by (service) (\n{absent}\n)",
        for_,
        "critical",
        "{{ $labels.service }} is down",
        f"No instance of {{{{ $labels.service }}}} has answered a Prometheus scrape for {for_}.",
    )


def _dependency_failure(name: str, exporter_up: str, check: str, what: str, profile: Profile) -> list[dict]:
    for_, checks_for = alert_for(name, profile), alert_for(f"{name}:health_check", profile)
    return [
        _alert(
            name,
            f"{exporter_up} == 0",
            for_,
            "critical",
            f"{what} is unreachable",
            f"The {what} exporter cannot connect to {what} ({{{{ $labels.instance }}}}).",
            owner=INFRA_TEAM,
            source="exporter",
        )
        | {"keep_firing_for": settings.DEPENDENCY_KEEP_FIRING[profile.name]},
        _alert(
            name,
            f'min by (service) (health_check_status{{job="{SERVICES_JOB}", check="{check}"}}) == 0',
            checks_for,
            "critical",
            f"{{{{ $labels.service }}}} cannot reach {what}",
            f"The {check} health check of {{{{ $labels.service }}}} has failed for {checks_for}.",
            source="health_check",
        ),
    ]


def _burn_rate_alerts() -> list[dict]:
    alerts = []
    for sli, name in (("availability", "ErrorBudgetBurn"), ("latency", "LatencyBudgetBurn")):
        for severity, long, short, factor, for_ in settings.BURN_RATE_ALERTS:
            alerts.append(
                _alert(
                    name,
                    f"{settings.slo_burn_rate(sli, long)} > {factor}\n"
                    f"and\n{settings.slo_burn_rate(sli, short)} > {factor}\n"
                    # The floor (settings.HIGH_ERROR_RATE_MIN_REQUESTS says why): enough requests in
                    # the short window that one bad request is within the threshold.
                    f"and on (service)\n{settings.slo_requests_rate(short)} * {units.parse_duration(short):g}"
                    f" * {factor}\n* on (service) (1 - {settings.slo_objective(sli)})\n>= 1",
                    for_,
                    severity,
                    f"{{{{ $labels.service }}}} is burning its {sli} error budget {factor}x too fast",
                    f"Over the last {long} (and still over {short}) {{{{ $labels.service }}}} spends its "
                    f"{settings.SLO_PERIOD} {sli} error budget at {{{{ $value | humanize }}}} times the "
                    "sustainable rate.",
                    window=long,
                )
            )
    return alerts


def _login_abuse(profile: Profile) -> list[dict]:
    """Failed password logins (platform-services' metrics): one client at its per-client limit,
    or most logins failing everywhere."""
    limited = 'auth_login_rate_limited_total{job="services", scope="client"}'
    password = 'auth_attempts_total{job="services", method="password"'
    failed = f'sum by (service) (rate({password}, outcome!="success"}}[5m]))'
    tried = f"sum by (service) (rate({password}}}[5m]))"
    client_for, platform_for = (
        alert_for("LoginAbuse:client", profile),
        alert_for("LoginAbuse:platform", profile),
    )
    return [
        _alert(
            "LoginAbuse",
            f"sum by (service) (increase({limited}[5m])) > 0",
            client_for,
            "warning",
            "{{ $labels.service }} refuses logins from a client that failed on many accounts",
            "Over the last 5 minutes a client address reached PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT "
            "failed logins, whatever the accounts, and was refused: credential stuffing from one "
            "address.",
            scope="client",
        ),
        _alert(
            "LoginAbuse",
            f"{failed}\n/ on (service)\n{tried}\n> {settings.LOGIN_FAILURE_RATIO}\nand on (service)\n"
            f"{failed}\n> {settings.LOGIN_FAILURES_PER_SECOND}",
            platform_for,
            "warning",
            "{{ $value | humanizePercentage }} of password logins at {{ $labels.service }} fail",
            f"More than {settings.LOGIN_FAILURE_RATIO:.0%} of password logins over 5 minutes failed "
            f"(wrong credentials or refused by a limit), more than {settings.LOGIN_FAILURES_PER_SECOND:g} "
            "a second: credential stuffing or password guessing spread over many addresses.",
            scope="platform",
        ),
    ]


def _chat_answers_failing(profile: Profile) -> dict:
    """Chats answered 200 whose answer reports a failure (llm-orchestrator's llm_chats_total): every
    HTTP metric stays green while the platform's main feature is useless (issue 16)."""
    chats = f'llm_chats_total{{job="{SERVICES_JOB}"'
    failing, answered = f'{chats}, outcome=~"tool_failure|no_tools"}}', f'{chats}, outcome!="failed"}}'

    def share(window: str) -> str:
        return (
            f"sum by (service) (rate({failing}[{window}]))\n/ on (service)\n"
            f"sum by (service) (rate({answered}[{window}]))"
        )

    threshold, short, for_ = (
        settings.CHAT_FAILURE_RATIO,
        profile.short_window,
        alert_for("ChatAnswersFailing", profile),
    )
    return _alert(
        "ChatAnswersFailing",
        # The short window resolves the alert within a minute of the fix, like HighErrorRate's. It must
        # show failures too: with no chat in it (0/0) there is no evidence of a failure now, and an
        # alert kept up by the long window alone would fire again after every fix, once chats stop.
        f"(\n{share('5m')}\n) > {threshold}\nand on (service)\n"
        f"sum by (service) (increase({answered}[5m])) >= {settings.CHAT_ANSWERS_MIN}\n"
        f"and on (service)\n(\n{share(short)}\n) > {threshold}",
        for_,
        # Critical: the platform's main feature is useless for most of its users, and nothing else
        # pages for it (every answer is a 200, so neither HighErrorRate nor the SLOs see it).
        "critical",
        "{{ $value | humanizePercentage }} of the chat answers of {{ $labels.service }} report a failure",
        f"Over 5 minutes (at least {settings.CHAT_ANSWERS_MIN} chats answered), and over the last {short}, "
        f"more than {threshold:.0%} of the chats {{{{ $labels.service }}}} answered came "
        "right after a failed Airtable tool call or without the tools at all: users get answers like "
        '"The tool list_tables failed" although every request succeeds.',
    )


def _disk_space(profile: Profile) -> list[dict]:
    """DiskSpaceLow (too little free now) and DiskSpaceFillingUp (full soon at the present trend), as
    node-mixin and kube-prometheus write them: a read-only filesystem (a mounted image, a snapshot)
    cannot fill up, whatever it has free."""
    fs = 'fstype!~"tmpfs|overlay|squashfs|ramfs|nsfs", mountpoint!~"/(run|var/lib/docker)/.*"'
    avail = f"node_filesystem_avail_bytes{{{fs}}}"
    free = f"{avail} / node_filesystem_size_bytes{{{fs}}}"
    writable = f"and\nnode_filesystem_readonly{{{fs}}} == 0"
    low = [
        _alert(
            "DiskSpaceLow",
            f"{free} < {threshold}\n{writable}",
            alert_for(f"DiskSpaceLow:{severity}", profile),
            severity,
            "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free",
            f"Less than {threshold:.0%} of the filesystem is free{consequence}",
            owner=INFRA_TEAM,
        )
        for severity, threshold, consequence in (
            ("warning", settings.DISK_FREE_WARNING, "."),
            (
                "critical",
                settings.DISK_FREE_CRITICAL,
                ": databases and Prometheus will soon fail to write.",
            ),
        )
    ]
    window = settings.DISK_FILL_TREND_WINDOW
    filling = [
        _alert(
            "DiskSpaceFillingUp",
            f"{free} < {share}\nand\npredict_linear({avail}[{window}], {_seconds(horizon)}) < 0\n{writable}",
            alert_for(f"DiskSpaceFillingUp:{severity}", profile),
            severity,
            "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up within " + horizon,
            f"At the trend of the last {window}, the filesystem ({{{{ $value | humanizePercentage }}}} free, "
            f"less than {share:.0%}) will be full within {horizon}.",
            owner=INFRA_TEAM,
        )
        for severity, horizon, share in settings.DISK_FILL_ALERTS
    ]
    return low + filling


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]


def alerts(catalog: Catalog, profile: Profile = COMPOSE) -> dict:
    quantile = f'{settings.LATENCY_QUANTILE}{{quantile="0.95"}}'
    short = profile.short_window
    minimum = settings.HIGH_ERROR_RATE_MIN_REQUESTS
    rules = [
        _service_down(catalog, profile),
        _alert(
            "HighErrorRate",
            f"{settings.ERRORS_RATIO} > {settings.ERROR_RATIO_THRESHOLD}\nand on (service)\n"
            f"sum by (service) (increase({REQUESTS}[{settings.RATE_WINDOW}])) >= {minimum}\n"
            f"and on (service)\n"
            f"(\n  sum by (service) (rate({ERRORS}[{short}]))\n/\n"
            f"  sum by (service) (rate({REQUESTS}[{short}]))\n) > {settings.ERROR_RATIO_THRESHOLD}",
            alert_for("HighErrorRate", profile),
            # A warning, to the owner's chat: ErrorBudgetBurn pages for errors that spend the budget
            # (the SRE workbook's burn-rate alerts in place of a threshold's page), and Alertmanager
            # mutes this one while it fires for the same service (alertmanager.py).
            "warning",
            "{{ $labels.service }} answers {{ $value | humanizePercentage }} of requests with 5xx",
            f"More than {settings.ERROR_RATIO_THRESHOLD:.0%} of {{{{ $labels.service }}}}'s answers over "
            f"5 minutes (at least {minimum} requests, probes left out), and over the last {short}, "
            "were server errors.",
        ),
        _alert(
            "HighLatency",
            f"{quantile}\n> on (service)\n{settings.HIGH_LATENCY_THRESHOLD}\nand on (service)\n"
            f"histogram_quantile(0.95,\n  sum by (service, le) "
            f"(rate({DURATION}_bucket{{{SERVED}}}[{short}])))\n"
            f"> on (service)\n{settings.HIGH_LATENCY_THRESHOLD}",
            alert_for("HighLatency", profile),
            "warning",
            "{{ $labels.service }} p95 latency is {{ $value | humanizeDuration }}",
            "The 95th percentile of {{ $labels.service }}'s request duration over 5 minutes, and over "
            f"the last {short}, is above its HighLatency threshold from the catalog (measured or its SLO "
            "floor: docs/thresholds.md says which).",
        ),
        *_dependency_failure(
            "DatabaseConnectionFailure", 'pg_up{job="postgres"}', "postgres", "PostgreSQL", profile
        ),
        *_dependency_failure("RedisConnectionFailure", 'redis_up{job="redis"}', "redis", "Redis", profile),
        *_disk_space(profile),
        _alert(
            "HighMemoryUsage",
            f'max by (service) (process_resident_memory_bytes{{job="{SERVICES_JOB}"}})\n'
            f"/ on (service)\n{settings.MEMORY_LIMIT}\n> {settings.MEMORY_USAGE_THRESHOLD}",
            alert_for("HighMemoryUsage:service", profile),
            "warning",
            "{{ $labels.service }} uses {{ $value | humanizePercentage }} of its memory limit",
            "The resident memory of an instance of {{ $labels.service }} is above "
            f"{settings.MEMORY_USAGE_THRESHOLD:.0%} of the limit in the catalog; the next spike "
            "can get it killed.",
            scope="service",
        ),
        _alert(
            "HighMemoryUsage",
            f"node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < {settings.HOST_MEMORY_AVAILABLE}",
            alert_for("HighMemoryUsage:host", profile),
            "warning",
            "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available",
            f"Less than {settings.HOST_MEMORY_AVAILABLE:.0%} of the host's memory is available.",
            owner=INFRA_TEAM,
            scope="host",
        ),
        *_burn_rate_alerts(),
        *_login_abuse(profile),
        _chat_answers_failing(profile),
    ]
    return {
        "groups": [
            {"name": "airscope-alerts", "rules": rules},
            meta_group(catalog, profile),
            rules_business.group(profile),
        ]
    }


def generate(catalog: Catalog) -> dict[str, str]:
    head = _yaml.header("rules.py")
    return {
        RECORDING_PATH: _yaml.dump(recording(catalog), head),
        ALERTS_PATH: _yaml.dump(alerts(catalog, COMPOSE), head),
        LOCAL_ALERTS_PATH: _yaml.dump(alerts(catalog, LOCAL), head),
    }
