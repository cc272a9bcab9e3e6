"""The platform at a glance: one line per catalog service (up, health, traffic, errors, latency and
SLO burn), what is firing, and the service map drawn from traces.

Each service gets its own panel, generated from the catalog, so a service whose series are gone
altogether shows "No data" under its name instead of silently dropping out of a table.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import nodegraph, tempo
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from airscope.catalog import Catalog, Service
from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels, service
from airscope.stack.grafana.dashboards.panels import P95, REFS, prom, rule
from airscope.telemetry import SAMPLE_RATIO

UID = "airscope-overview"
TITLE = "airscope / Overview"
SLI = "availability"
BURN_WINDOW = "1h"  # the page-worthy window: what burns the budget right now


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


def _describe(svc: Service) -> str:
    slo = svc.slo
    return (
        f"Owner {svc.owner}, tier {svc.tier}. SLO: {_percent(slo.availability)} of requests without a 5xx; "
        f"{_percent(slo.latency_target)} of requests faster than {slo.latency_seconds:g}s. "
        f"Burn rate {BURN_WINDOW}: how fast the {settings.SLO_PERIOD} error budget is being spent "
        "(1 spends it exactly over the period). The link in the title bar opens the service's dashboard."
    )


def _service_panel(svc: Service):
    only = f'service="{svc.name}"'
    # (query, overrides of its field): the values differ in unit and in what "bad" means.
    values = [
        (
            prom(rule(settings.SERVICE_UP, only), "up", instant=True),
            panels.field(mappings=panels.states("UP", "DOWN")),
        ),
        (
            prom(f"min by (service) ({panels.series('health_check_status', only)})", "health", instant=True),
            panels.field(mappings=panels.states("OK", "FAILING")),
        ),
        (
            prom(rule(settings.REQUESTS_RATE, only), "requests/s", instant=True),
            panels.field("reqps", decimals=2),
        ),
        (
            prom(rule(settings.ERRORS_RATIO, only), "5xx", instant=True),
            panels.field(
                "percentunit", decimals=2, steps=panels.thresholds((settings.ERROR_RATIO_THRESHOLD, "red"))
            ),
        ),
        (
            prom(rule(settings.LATENCY_QUANTILE, only, f'quantile="{P95}"'), "p95", instant=True),
            panels.field("s", steps=panels.thresholds((svc.slo.latency_seconds, "red"))),
        ),
        (
            prom(
                rule(settings.slo_burn_rate(SLI, BURN_WINDOW), only), f"burn rate {BURN_WINDOW}", instant=True
            ),
            panels.field("none", decimals=2, steps=panels.burn_rate_steps()),
        ),
        (
            prom(rule(settings.slo_objective(SLI), only), "objective", instant=True),
            panels.field("percentunit", decimals=2, steps=panels.thresholds(base="blue")),
        ),
    ]
    panel = (
        panels.stat_panel(
            f"{svc.name} (tier {svc.tier}, {svc.owner})",
            [query for query, _ in values],
            description=_describe(svc),
            width=panels.WIDTH,
        )
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .links([panels.link(f"{svc.name} dashboard", panels.service_url(service.UID, svc.name))])
    )
    for ref, (_, overrides) in zip(REFS, values, strict=False):
        panel = panel.override_by_query(ref, overrides)
    return panel


def _alerts():
    return panels.table_panel(
        "Firing alerts",
        # The Watchdog always fires on purpose (the dead man's switch's heartbeat): not a problem to show.
        [prom('ALERTS{alertstate="firing", alertname!="Watchdog"}', instant=True, table_format=True)],
        datasource="prometheus",
        width=panels.WIDTH,
        height=6,
    ).with_transformation(
        model.DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True}},
        )
    )


# What the map counts, said on the panel: it is not the RED panels' count, and reads differently.
SERVICE_MAP_COUNTS = (
    "Calls between services, from the spans of the traces kept (production keeps the share of new "
    "traces OTEL_TRACES_SAMPLER_ARG sets, 1 in 10 by default; local mode keeps all). Each kept span counts "
    f"for the traces it stands for: 1/ratio, from its {SAMPLE_RATIO} attribute (Tempo's "
    "span_multiplier_key), so request and error rates estimate all traffic, as the panels above "
    "count it: close to them when traffic is high, coarse when a few traces a minute are kept. A "
    "trace begun outside the platform (the browser) counts as often as it was kept. Drawn from the "
    "service-graph series Tempo writes to Prometheus, whatever the Metrics from choice."
)


def _service_map():
    # Tempo's metrics-generator writes the service-graph series the node graph is drawn from.
    panel = (
        nodegraph.Panel()
        .title("Service map (from traces)")
        .description(SERVICE_MAP_COUNTS)
        .span(panels.WIDTH)
        .height(14)
    )
    return panels.with_queries(panel, "tempo", [tempo.TempoQuery().query_type("serviceMap")])


def build(catalog: Catalog):
    tiers = sorted({svc.tier for svc in catalog.services.values()})
    rows = [("Alerts", [_alerts()])]
    for tier in tiers:
        members = [svc for svc in catalog.services.values() if svc.tier == tier]
        rows.append((f"Tier {tier} services", [_service_panel(svc) for svc in members]))
    rows.append(("Service map", [_service_map()]))
    board = panels.board(
        UID,
        TITLE,
        "Every catalog service's health, traffic, errors, latency and SLO burn, and what is firing.",
        tags=["overview"],
    )
    return panels.with_rows(board, rows)
