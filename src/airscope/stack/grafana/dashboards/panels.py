"""What every dashboard is built from: datasource refs, PromQL helpers, panels with their queries,
and the one JSON encoding.

Every query gets its refId here (A, B, ...) and every panel its datasource, so no dashboard can
lack either; queries select the ``services`` job, where the kit's and the domain metrics live.
Metrics panels read the store the dashboard's ``datasource`` variable names (Prometheus by default,
Mimir for what lies past Prometheus' retention), so every dashboard built here can read a year back.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import (
    dashboard,
    heatmap,
    logs,
    loki,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from airscope.stack import settings
from airscope.stack.grafana.datasources import NAMES, TYPES

REFS = string.ascii_uppercase  # refIds in query order: the first query is A
TAG = "airscope"  # every dashboard's tag: the dashboards link on each one lists them by it
P95 = "0.95"  # the quantile the overview and per-route panels show (one of settings.QUANTILES)
RATE = "$__rate_interval"  # Grafana widens it to cover at least four scrapes
WIDTH = 24  # Grafana's grid


# The dashboards' choice of metrics store, and the datasource ``with_queries`` points "prometheus"
# panels at: Grafana offers every provisioned Prometheus-type datasource (Prometheus and Mimir).
DATASOURCE_VARIABLE = "datasource"
METRICS = "prometheus"  # what a panel's datasource= names to read the chosen metrics store


def source(name: str) -> model.DataSourceRef:
    if name == METRICS:
        return model.DataSourceRef(type_val=TYPES[name], uid=f"${{{DATASOURCE_VARIABLE}}}")
    return model.DataSourceRef(type_val=TYPES[name], uid=settings.DATASOURCE_UIDS[name])


def datasource_variable() -> dashboard.DatasourceVariable:
    """Prometheus or Mimir: the same series (Prometheus remote-writes every sample to Mimir), kept
    for different lengths of time."""
    default = "prometheus"
    return (
        dashboard.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Metrics from")
        .type(TYPES[default])
        .current(model.VariableOption(text=NAMES[default], value=settings.DATASOURCE_UIDS[default]))
        .allow_custom_value(False)
        .description(
            f"{NAMES['prometheus']} keeps {_days(settings.PROMETHEUS_RETENTION_TIME)} of metrics; "
            f"{NAMES['mimir']} keeps {_days(settings.MIMIR_RETENTION)}: choose it for longer ranges."
        )
    )


def _days(retention: str) -> str:
    """``15d`` or ``8760h`` as days, for people."""
    number, unit = int(retention[:-1]), retention[-1]
    return f"{number // 24 if unit == 'h' else number} days"


# --- PromQL ---------------------------------------------------------------------------------------


def series(metric: str, *matchers: str) -> str:
    """``metric{job="services", <matchers>}``."""
    job = f'job="{settings.SERVICES_JOB}"'
    return f"{metric}{{{', '.join((job, *matchers))}}}"


def _sum(by: str) -> str:
    return f"sum by ({by}) " if by else "sum "


def rate(metric: str, *matchers: str, by: str = "") -> str:
    return f"{_sum(by)}(rate({series(metric, *matchers)}[{RATE}]))"


def ratio(metric: str, part: str, *matchers: str, by: str = "") -> str:
    """The share of a counter's rate whose labels also match ``part``."""
    return f"{rate(metric, part, *matchers, by=by)}\n/\n{rate(metric, *matchers, by=by)}"


def quantile(q: str, histogram: str, *matchers: str, by: str = "") -> str:
    le = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, {rate(f'{histogram}_bucket', *matchers, by=le)})"


def rule(name: str, *matchers: str) -> str:
    """A recording rule's series: the rule already selected the job."""
    return f"{name}{{{', '.join(matchers)}}}" if matchers else name


# --- queries --------------------------------------------------------------------------------------


def prom(
    expr: str,
    legend: str = "",
    *,
    instant: bool = False,
    exemplar: bool = False,
    table_format: bool = False,
    heatmap_format: bool = False,
):
    query = prometheus.Dataquery().expr(expr)
    if legend:
        query = query.legend_format(legend)
    if instant:
        query = query.instant()
    if exemplar:
        query = query.exemplar(True)
    if table_format:
        query = query.format(PromQueryFormat.TABLE)
    if heatmap_format:  # Grafana turns cumulative le buckets into per-bucket counts, one row each
        query = query.format(PromQueryFormat.HEATMAP)
    return query


def logql(expr: str, legend: str = ""):
    query = loki.Dataquery().expr(expr)
    return query.legend_format(legend) if legend else query


def with_queries(panel, datasource: str, queries: Sequence[Builder]):
    panel = panel.datasource(source(datasource))
    for ref, query in zip(REFS, queries, strict=False):
        panel = panel.with_target(query.ref_id(ref))
    return panel


# --- field config ---------------------------------------------------------------------------------


def thresholds(*steps: tuple[float, str], base: str = "green") -> dashboard.ThresholdsConfig:
    """Colour from ``base`` upwards, changing at each (value, colour) step."""
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base), *(model.Threshold(value=v, color=c) for v, c in steps)]
        )
    )


def burn_rate_steps() -> dashboard.ThresholdsConfig:
    """Orange from the lowest burn rate a warning fires at, red from the lowest a page fires at."""
    lowest: dict[str, float] = {}
    for severity, _long, _short, factor, _for in settings.BURN_RATE_ALERTS:
        lowest[severity] = min(factor, lowest.get(severity, factor))
    return thresholds((lowest["warning"], "orange"), (lowest["critical"], "red"))


def states(ok: str, bad: str) -> list[model.ValueMap]:
    """A 1/0 gauge as words: 1 green, 0 red."""
    return [
        model.ValueMap(
            options={
                "1": model.ValueMappingResult(text=ok, color="green", index=0),
                "0": model.ValueMappingResult(text=bad, color="red", index=1),
            }
        )
    ]


def field(
    unit: str = "",
    *,
    decimals: int | None = None,
    steps: dashboard.ThresholdsConfig | None = None,
    mappings: list[model.ValueMap] | None = None,
) -> list[model.DynamicConfigValue]:
    """Overrides of one query's field, for panels that mix units."""
    values = [
        ("unit", unit or None),
        ("decimals", decimals),
        ("thresholds", steps.build() if steps else None),
        ("mappings", mappings),
    ]
    return [model.DynamicConfigValue(id_val=key, value=value) for key, value in values if value is not None]


# --- panels ---------------------------------------------------------------------------------------


def timeseries_panel(
    title: str,
    queries: Sequence[Builder],
    *,
    unit: str = "short",
    description: str = "",
    width: int = 12,
    height: int = 8,
    datasource: str = "prometheus",
    stacked: bool = False,
    bars: bool = False,
    steps: dashboard.ThresholdsConfig | None = None,
):
    panel = (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )
    if description:
        panel = panel.description(description)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if steps is not None:
        # Draw the thresholds (alerting levels, objectives) as dashed lines on the graph.
        panel = panel.thresholds(steps).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
        )
    return with_queries(panel, datasource, queries)


def stat_panel(
    title: str,
    queries: Sequence[Builder],
    *,
    unit: str = "short",
    description: str = "",
    width: int = 4,
    height: int = 4,
    steps: dashboard.ThresholdsConfig | None = None,
    mappings: list | None = None,
    no_value: str = "",
):
    panel = (
        stat.Panel()
        .title(title)
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(steps or thresholds())
    )
    if description:
        panel = panel.description(description)
    if mappings:
        panel = panel.mappings(mappings)
    if no_value:
        panel = panel.no_value(no_value)
    return with_queries(panel, "prometheus", queries)


def heatmap_panel(
    title: str, histogram: str, *matchers: str, unit: str = "short", description: str = "", width: int = 12
):
    """A histogram's buckets over time: each bucket's rate, one row per bucket as the exporter cut
    them (no recalculation), darker where more observations fell."""
    expr = f"sum by (le) (rate({series(f'{histogram}_bucket', *matchers)}[{RATE}]))"
    panel = (
        heatmap.Panel()
        .title(title)
        .span(width)
        .height(8)
        .calculate(False)
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .y_axis(heatmap.YAxisConfig().unit(unit))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .fill("dark-orange")
            .scale(heatmap_model.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)
        )
        .cell_values(heatmap.CellValues().unit("ops"))
        .show_legend()
    )
    if description:
        panel = panel.description(description)
    return with_queries(panel, "prometheus", [prom(expr, "{{le}}", heatmap_format=True)])


def state_panel(title: str, queries: Sequence[Builder], *, mappings: list[model.ValueMap], width: int = 12):
    panel = (
        statetimeline.Panel()
        .title(title)
        .span(width)
        .height(8)
        .mappings(mappings)
        .fill_opacity(80)
        .show_value(common.VisibilityMode.NEVER)
    )
    return with_queries(panel, "prometheus", queries)


def table_panel(title: str, queries: Sequence[Builder], *, datasource: str, width: int = 12, height: int = 8):
    return with_queries(table.Panel().title(title).span(width).height(height), datasource, queries)


def logs_panel(title: str, expr: str, *, description: str = "", width: int = WIDTH, height: int = 12):
    panel = (
        logs.Panel()
        .title(title)
        .span(width)
        .height(height)
        .show_time(True)
        .enable_log_details(True)
        .wrap_log_message(True)
        .sort_order(common.LogsSortOrder.DESCENDING)
    )
    if description:
        panel = panel.description(description)
    return with_queries(panel, "loki", [logql(expr)])


def link(title: str, url: str, *, include_vars: bool = False) -> dashboard.DashboardLink:
    return (
        dashboard.DashboardLink(title)
        .type(model.DashboardLinkType.LINK)
        .url(url)
        .keep_time(True)
        .include_vars(include_vars)
    )


def service_url(uid: str, service: str) -> str:
    return f"/d/{uid}?var-service={service}"


# --- dashboards -----------------------------------------------------------------------------------


def board(uid: str, title: str, description: str, tags: Iterable[str] = ()) -> dashboard.Dashboard:
    """A provisioned, read-only dashboard with a menu of every other airscope dashboard."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .with_variable(datasource_variable())
        .description(description)
        .tags([TAG, *tags])
        .readonly()
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("airscope")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
        )
    )


def with_rows(
    builder: dashboard.Dashboard, rows: Sequence[tuple[str, Sequence[Builder]]]
) -> dashboard.Dashboard:
    for title, row_panels in rows:
        builder = builder.with_row(dashboard.Row(title))
        for panel in row_panels:
            builder = builder.with_panel(panel)
    return builder


def _reads_metrics(built: model.Dashboard) -> bool:
    metrics = source(METRICS).uid
    for panel in built.panels or []:
        for inner in [panel, *(getattr(panel, "panels", None) or [])]:
            datasource = getattr(inner, "datasource", None)
            if datasource is not None and datasource.uid == metrics:
                return True
    return False


def encode(builder: dashboard.Dashboard) -> str:
    """The dashboard as JSON, panels numbered in order so links to a panel stay stable. A dashboard
    without metrics panels (Logs) drops the choice of metrics store, which would change nothing."""
    built = builder.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    if built.templating and built.templating.list_val and not _reads_metrics(built):
        built.templating.list_val = [v for v in built.templating.list_val if v.name != DATASOURCE_VARIABLE]
    return JSONEncoder(sort_keys=True, indent=2).encode(built) + "\n"
