"""Every PromQL expression of the rules and dashboards parses, and names only metrics that exist.

"Exist" means: exported by the services (read from their real registries: the kit's metrics on a
fresh registry, each service's ``metrics`` module), recorded by our rules, or listed below from the
exporters and backends we deploy. An alert on a metric nobody exports never fires: this is the
check that catches it.
"""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from airscope import catalog as service_catalog
from airscope.stack import grafana
from airscope.stack.metrics_inventory import service_metric_objects
from airscope.telemetry import HealthMonitor, HttpServerMetrics

RULES_DIR = "deploy/prometheus/rules"
DASHBOARDS_DIR = grafana.dashboards.DIRECTORY

# Metrics of the parts we deploy but do not write, as their docs name them.
EXTERNAL_METRICS = {
    # Prometheus itself: every target's health, and the alerts it evaluates.
    "prometheus": {"up", "scrape_duration_seconds", "ALERTS", "ALERTS_FOR_STATE"},
    # Prometheus' own metrics (its self-scrape, job "prometheus"): rule evaluation and remote write
    # (storage/remote/queue_manager.go in 3.14; the prometheus-mixin's alerts read the same).
    "prometheus-self": {
        "prometheus_rule_evaluation_failures_total",
        "prometheus_remote_storage_samples_total",
        "prometheus_remote_storage_samples_failed_total",
        "prometheus_remote_storage_queue_highest_timestamp_seconds",
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
    },
    # Alertmanager's own (notify/metrics.go in 0.34): notifications given up on, by integration.
    "alertmanager": {"alertmanager_notifications_total", "alertmanager_notifications_failed_total"},
    # node_exporter (filesystem and meminfo collectors).
    "node": {
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_readonly",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_cpu_seconds_total",
        "node_load1",
    },
    "postgres": {"pg_up", "pg_stat_database_numbackends", "pg_settings_max_connections"},
    "redis": {
        "redis_up",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
    },
    "blackbox": {"probe_success", "probe_duration_seconds", "probe_http_status_code"},
    # cAdvisor (docs/storage/prometheus.md at v0.60; OOM events from the kernel log, on by default).
    "cadvisor": {
        "container_memory_working_set_bytes",
        "container_cpu_usage_seconds_total",
        "container_spec_memory_limit_bytes",
        "container_start_time_seconds",
        "container_oom_events_total",
    },
    # Tempo's metrics-generator (service-graphs and span-metrics processors).
    "tempo": {
        "traces_service_graph_request_total",
        "traces_service_graph_request_failed_total",
        "traces_service_graph_request_server_seconds_bucket",
        "traces_service_graph_request_server_seconds_count",
        "traces_service_graph_request_server_seconds_sum",
        "traces_spanmetrics_calls_total",
        "traces_spanmetrics_latency_bucket",
        "traces_spanmetrics_latency_count",
        "traces_spanmetrics_latency_sum",
    },
}

# Grafana's variables become values the parser accepts; their meaning does not matter here.
_GRAFANA_DURATIONS = re.compile(
    r"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}"
)
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]+\}|\$\w+|\[\[\w+\]\]")


def _sample_names(name: str, kind: str) -> set[str]:
    return {
        "counter": {f"{name}_total"},
        "histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum"},
        "summary": {f"{name}_count", f"{name}_sum", name},
        "info": {f"{name}_info"},
    }.get(kind, {name})


def exported_metrics() -> set[str]:
    """What the services export: the kit's metrics (made on a fresh registry) and their domain ones."""
    registry = CollectorRegistry()
    HttpServerMetrics(registry, version="check", commit="check", process=True)
    HealthMonitor([], registry=registry)
    names = {n for family in registry.collect() for n in _sample_names(family.name, family.type)}
    for service in service_catalog.load().services.values():
        for metric in service_metric_objects(service.module):
            names |= _metric_names(metric)
    return names


def _metric_names(metric: MetricWrapperBase) -> set[str]:
    (family,) = metric.describe()
    return _sample_names(family.name, family.type)


def _rules(root: Path) -> list[dict]:
    return [
        rule
        for path in sorted((root / RULES_DIR).glob("*.yml"))
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", [])
        for rule in group.get("rules", [])
    ]


def _dashboard_expressions(root: Path) -> list[tuple[str, str]]:
    files = {
        str(path.relative_to(root)): path.read_text()
        for path in sorted((root / DASHBOARDS_DIR).glob("*.json"))
    }
    return grafana.promql_expressions(files)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (raises ValueError when it does not parse)."""
    expr = _GRAFANA_DURATIONS.sub("5m", expr)
    expr = _GRAFANA_VARIABLES.sub("x", expr)
    names: set[str] = set()

    def visit(node: object) -> None:
        selector = getattr(node, "vector_selector", None) or node
        if isinstance(selector, promql_parser.VectorSelector):
            if selector.name:
                names.add(selector.name)
            for matcher in selector.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def check(root: Path) -> list[str]:
    rules = _rules(root)
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = exported_metrics() | recorded | set().union(*EXTERNAL_METRICS.values())
    expressions = [(f"{RULES_DIR} {rule.get('record') or rule.get('alert')}", rule["expr"]) for rule in rules]
    expressions += _dashboard_expressions(root)
    problems = []
    for where, expr in expressions:
        try:
            names = metric_names(expr)
        except ValueError as exc:
            problems.append(f"{where}: PromQL does not parse: {exc}")
            continue
        for name in sorted(names - known):
            problems.append(f"{where}: selects {name!r}, which no service, rule or exporter exports")
    if not expressions:
        problems.append(f"{RULES_DIR}: no PromQL expressions found to check")
    return problems
