"""One service in depth, chosen with the `service` variable (its options are the catalog's
services): RED by route, health checks, process resources against the catalog's limit, SLO burn
rates, its logs and its traces."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, tempo
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.tempo import SearchTableType

from airscope.catalog import Catalog
from airscope.stack import settings
from airscope.stack.grafana.dashboards import logs, panels
from airscope.stack.grafana.dashboards.panels import P95, prom, rule, series

UID = "airscope-service"
TITLE = "airscope / Service"

ONLY = 'service="$service"'
DURATION = "http_server_request_duration_seconds"


def variable(catalog: Catalog) -> dashboard.CustomVariable:
    names = list(catalog.services)
    return (
        dashboard.CustomVariable("service")
        .label("Service")
        .values(",".join(names))
        .current(model.VariableOption(text=names[0], value=names[0]))
        .options(
            [model.VariableOption(selected=i == 0, text=name, value=name) for i, name in enumerate(names)]
        )
    )


def _summary():
    latency = rule(settings.LATENCY_QUANTILE, ONLY, f'quantile="{P95}"')
    return [
        panels.stat_panel(
            "Up",
            [prom(rule(settings.SERVICE_UP, ONLY), instant=True)],
            mappings=panels.states("UP", "DOWN"),
        ),
        panels.stat_panel(
            "Instances answering scrapes", [prom(f"sum({series('up', ONLY)})", instant=True)], unit="none"
        ),
        panels.stat_panel(
            "Requests/s", [prom(rule(settings.REQUESTS_RATE, ONLY), instant=True)], unit="reqps"
        ),
        panels.stat_panel(
            "5xx share",
            [prom(rule(settings.ERRORS_RATIO, ONLY), instant=True)],
            unit="percentunit",
            steps=panels.thresholds((settings.ERROR_RATIO_THRESHOLD, "red")),
            # The rule records no share for a service that served no request (probes left out).
            no_value="no requests",
        ),
        panels.stat_panel(
            "p95 latency / alert and SLO thresholds",
            [
                prom(latency, "p95", instant=True),
                prom(rule(settings.HIGH_LATENCY_THRESHOLD, ONLY), "HighLatency above", instant=True),
                prom(rule(settings.LATENCY_THRESHOLD, ONLY), "SLO threshold", instant=True),
            ],
            unit="s",
        ),
        panels.stat_panel(
            "Requests in flight", [prom(f"sum({series('http_server_active_requests', ONLY)})", instant=True)]
        ),
    ]


def _error_share(title: str, recorded: str, legend: str):
    """A recorded 5xx ratio against the threshold its alert fires at."""
    return panels.timeseries_panel(
        title,
        [prom(rule(recorded, ONLY), legend)],
        unit="percentunit",
        width=8,
        steps=panels.thresholds((settings.ERROR_RATIO_THRESHOLD, "red")),
    )


def _red():
    count = f"{DURATION}_count"
    return [
        panels.timeseries_panel(
            "Requests/s by route",
            [prom(rule(settings.ROUTE_REQUESTS_RATE, ONLY), "{{route}}")],
            unit="reqps",
            width=8,
        ),
        _error_share("5xx share by route", settings.ROUTE_ERRORS_RATIO, "{{route}}"),
        panels.timeseries_panel(
            "p95 latency by route",
            [prom(rule(settings.ROUTE_LATENCY_QUANTILE, ONLY, f'quantile="{P95}"'), "{{route}}")],
            unit="s",
            width=8,
        ),
        panels.timeseries_panel(
            "Requests/s by status",
            [prom(panels.rate(count, ONLY, by="status"), "{{status}}")],
            unit="reqps",
            width=8,
            stacked=True,
        ),
        _error_share("5xx share", settings.ERRORS_RATIO, "5xx"),
        panels.timeseries_panel(
            "Latency quantiles",
            [
                prom(rule(settings.LATENCY_QUANTILE, ONLY), "p{{quantile}}"),
                # Recorded series carry no exemplars: this query reads the raw buckets so each dot
                # links to a trace of a request that took that long.
                prom(panels.quantile(P95, DURATION, ONLY), "p95 exemplars", exemplar=True),
            ],
            unit="s",
            width=8,
            description="Dots are exemplars: click one to open its trace in Tempo.",
        ),
    ]


def _health():
    return [
        panels.state_panel(
            "Health checks",
            [prom(f"min by (check) ({series('health_check_status', ONLY)})", "{{check}}")],
            mappings=panels.states("OK", "FAILING"),
        ),
        panels.timeseries_panel(
            "Health check duration",
            [prom(f"max by (check) ({series('health_check_duration_seconds', ONLY)})", "{{check}}")],
            unit="s",
        ),
    ]


def _resources():
    return [
        panels.timeseries_panel(
            "Memory (RSS) and the container's limit",
            [
                prom(series("process_resident_memory_bytes", ONLY), "{{instance}}"),
                prom(rule(settings.MEMORY_LIMIT, ONLY), "limit"),
            ],
            unit="bytes",
            width=8,
        ),
        panels.timeseries_panel(
            "CPU (1 = one core)",
            [prom(f"rate({series('process_cpu_seconds_total', ONLY)}[{panels.RATE}])", "{{instance}}")],
            unit="percentunit",
            width=8,
        ),
        panels.timeseries_panel(
            "Open file descriptors",
            [prom(series("process_open_fds", ONLY), "{{instance}}")],
            unit="none",
            width=8,
        ),
    ]


def _slo():
    burn = [
        panels.timeseries_panel(
            f"{sli.capitalize()} SLO burn rate",
            [
                prom(rule(settings.slo_burn_rate(sli, window), ONLY), window)
                for window in settings.SLO_WINDOWS
            ],
            unit="none",
            width=9,
            steps=panels.burn_rate_steps(),
            description=(
                f"How fast the {settings.SLO_PERIOD} error budget burns over each window (1 spends it "
                "exactly over the period). Dashed lines: the lowest burn rates that warn and that page."
            ),
        )
        for sli in settings.SLIS
    ]
    objectives = panels.stat_panel(
        "Objectives",
        [prom(rule(settings.slo_objective(sli), ONLY), sli, instant=True) for sli in settings.SLIS],
        unit="percentunit",
        width=6,
        height=8,
    )
    return [*burn, objectives]


def _logs_and_traces():
    def traces(title: str, traceql: str):
        query = (
            tempo.TempoQuery()
            .query_type("traceql")
            .query(traceql)
            .table_type(SearchTableType.TRACES)
            .limit(20)
        )
        return panels.table_panel(title, [query], datasource="tempo")

    return [
        panels.logs_panel("Logs", '{service="$service"} | json'),
        traces("Recent traces", '{resource.service.name="$service"}'),
        traces("Failed traces", '{resource.service.name="$service" && status=error}'),
    ]


def build(catalog: Catalog):
    board = (
        panels.board(
            UID, TITLE, "RED, health, resources, SLO, logs and traces of one service.", tags=["service"]
        )
        .with_variable(variable(catalog))
        .link(panels.link("Logs of this service", f"/d/{logs.UID}", include_vars=True))
    )
    rows = [
        ("Summary", _summary()),
        ("Traffic, errors and latency", _red()),
        ("Health checks", _health()),
        ("Process resources", _resources()),
        ("SLO", _slo()),
        ("Logs and traces", _logs_and_traces()),
    ]
    return panels.with_rows(board, rows)
