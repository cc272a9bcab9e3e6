"""Grafana's datasources, wired to each other: metrics to traces by exemplar, logs to traces by the
structured metadata Alloy sets on the lines of kept traces only, traces to logs, to the kit's RED
metrics and to the CPU profile of their root span (Pyroscope).

Each datasource's uid is its key in ``settings.DATASOURCE_UIDS``; dashboards and the links below
name a datasource by that uid, so a link can never point at a datasource that is not provisioned.
"""

from __future__ import annotations

from airscope.stack import _yaml, pyroscope, settings

PATH = "deploy/grafana/provisioning/datasources/datasources.yml"

# The plugin type of each datasource (Mimir answers the Prometheus API).
TYPES = {
    "prometheus": "prometheus",
    "mimir": "prometheus",
    "loki": "loki",
    "tempo": "tempo",
    "jaeger": "jaeger",
    "alertmanager": "alertmanager",
    "pyroscope": "grafana-pyroscope-datasource",  # the core plugin's id (Grafana 10.1 and later)
}
NAMES = {
    "prometheus": "Prometheus",
    "mimir": "Mimir",
    "loki": "Loki",
    "tempo": "Tempo",
    "jaeger": "Jaeger",
    "alertmanager": "Alertmanager",
    "pyroscope": "Pyroscope",
}
# Paths under each server's port where its query API lives.
API_PATHS = {"mimir": "/prometheus"}

UID = settings.DATASOURCE_UIDS
TRACE_ID = "trace_id"  # the exemplar label (the kit's name)
DURATION = "http_server_request_duration_seconds"


def _url(name: str) -> str:
    # Compose names each container after its tool, so the host is the datasource's key.
    return f"http://{name}:{settings.PORTS[name]}{API_PATHS.get(name, '')}"


def _exemplars() -> list[dict]:
    return [{"name": TRACE_ID, "datasourceUid": UID["tempo"], "urlDisplayLabel": "Trace in Tempo"}]


def _traces_to_logs() -> dict:
    # The span's service.name is the `service` log label; the trace id is then a line filter, since
    # every JSON line inside a request carries it. A minute either side covers clock skew between
    # the span's end and the line reaching Loki.
    return {
        "datasourceUid": UID["loki"],
        "spanStartTimeShift": "-1m",
        "spanEndTimeShift": "1m",
        "tags": [{"key": "service.name", "value": "service"}],
        "filterByTraceID": True,
        "filterBySpanID": False,
    }


def _traces_to_metrics() -> dict:
    # $__tags expands to the mapped span tags, here service="<service.name>"; `$$` escapes `$`
    # for the provisioning reader.
    selector = f'{{job="{settings.SERVICES_JOB}", $$__tags}}'
    window = settings.RATE_WINDOW
    return {
        "datasourceUid": UID["prometheus"],
        "spanStartTimeShift": "-10m",
        "spanEndTimeShift": "10m",
        "tags": [{"key": "service.name", "value": "service"}],
        "queries": [
            {
                "name": "Requests/s by route",
                "query": f"sum by (route) (rate({DURATION}_count{selector}[{window}]))",
            },
            {
                "name": "5xx share",
                "query": (
                    f'sum(rate({DURATION}_count{{job="{settings.SERVICES_JOB}", status=~"{settings.FAILED_STATUS}", $$__tags}}'
                    f"[{window}])) / sum(rate({DURATION}_count{selector}[{window}]))"
                ),
            },
            {
                "name": "p95 latency",
                "query": f"histogram_quantile(0.95, sum by (le) (rate({DURATION}_bucket{selector}[{window}])))",
            },
        ],
    }


def _traces_to_profiles() -> dict:
    # A kept root span carries pyroscope.profile.id (the kit's span processor): the link and the
    # embedded flame graph show that span's CPU samples. The span's service.name is the agent's
    # service_name; without customQuery Grafana queries the profile type by those tags.
    return {
        "datasourceUid": UID["pyroscope"],
        "profileTypeId": pyroscope.CPU_PROFILE_TYPE,
        "tags": [{"key": "service.name", "value": "service_name"}],
        "customQuery": False,
    }


def _source(name: str, json_data: dict | None = None, **extra) -> dict:
    entry = {
        "name": NAMES[name],
        "type": TYPES[name],
        "uid": UID[name],
        "access": "proxy",
        "url": _url(name),
        "isDefault": False,
        "editable": False,
        **extra,
    }
    if json_data:
        entry["jsonData"] = json_data
    return entry


def datasources() -> list[dict]:
    interval = settings.COMPOSE.scrape_interval
    return [
        _source(
            "prometheus",
            {
                "timeInterval": interval,
                "prometheusType": "Prometheus",
                "exemplarTraceIdDestinations": _exemplars(),
            },
            isDefault=True,
        ),
        _source(
            "mimir",
            {
                "timeInterval": interval,
                "prometheusType": "Mimir",
                "exemplarTraceIdDestinations": _exemplars(),
            },
        ),
        _source(
            "loki",
            {
                "derivedFields": [
                    {
                        # matcherType label reads structured metadata too. Alloy sets this key only
                        # on lines whose trace was kept (trace_sampled): the link never opens a trace
                        # Tempo does not have. The trace_id of every line stays, for searching.
                        "name": settings.LOG_SAMPLED_TRACE_ID,
                        "matcherType": "label",
                        "matcherRegex": settings.LOG_SAMPLED_TRACE_ID,
                        "datasourceUid": UID["tempo"],
                        "url": "$${__value.raw}",
                        "urlDisplayLabel": "Trace in Tempo",
                    }
                ]
            },
        ),
        _source(
            "tempo",
            {
                "tracesToLogsV2": _traces_to_logs(),
                "tracesToMetrics": _traces_to_metrics(),
                "tracesToProfiles": _traces_to_profiles(),
                # Tempo's metrics-generator remote-writes the service-graph series to Prometheus.
                "serviceMap": {"datasourceUid": UID["prometheus"]},
                "nodeGraph": {"enabled": True},
                "lokiSearch": {"datasourceUid": UID["loki"]},
                "search": {"hide": False},
            },
        ),
        _source("jaeger", {"tracesToLogsV2": _traces_to_logs(), "nodeGraph": {"enabled": True}}),
        _source("alertmanager", {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}),
        # minStep: the agent pushes every 10 s, so a finer step only draws empty points.
        _source("pyroscope", {"minStep": "15s"}),
    ]


def generate() -> dict[str, str]:
    document = {"apiVersion": 1, "datasources": datasources()}
    return {PATH: _yaml.dump(document, header=_yaml.header("grafana/datasources.py"))}
