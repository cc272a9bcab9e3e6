"""The dashboards' JSON API: the list, one dashboard's JSON, a panel's queries, and Explore's PromQL box.

A panel's queries come from the dashboard file itself (the browser names the dashboard and the panel,
never an expression), so the console only ever runs what production Grafana would run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from airscope.console import logql, prometheus_query, traceql
from airscope.console.dashboards import (
    Dashboard,
    DashboardError,
    DashboardNotFound,
    Dashboards,
    PanelNotFound,
)
from airscope.console.interpolate import (
    Intervals,
    Scope,
    Selection,
    Variable,
    VariableError,
    format_interval,
    interpolate,
    loki_intervals,
    prometheus_intervals,
    select,
    variables_of,
)
from airscope.console.settings import ConsoleConfig
from airscope.console.timerange import TimeRange, TimeRangeError, resolve
from airscope.errors import AirscopeError
from airscope.promapi import PromAPIError, Prometheus
from airscope.stack import grafana, settings
from airscope.stack.grafana import datasources

router = APIRouter()

DEFAULT_LOG_LINES = 1000  # Grafana's Loki data source's default maxLines
# The one metrics store local mode runs: Mimir (production's year of metrics) has no local stand-in,
# so a dashboard's datasource variable offers it as "production only", not to be chosen.
LOCAL_METRICS = settings.DATASOURCE_UIDS["prometheus"]
PRODUCTION_ONLY = " (production only)"
MAX_PARALLEL_TARGETS = 8
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$", re.S)


class PanelQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    dashboard: str
    panelId: int  # Grafana's spelling, as the browser sends it
    from_: str = Field("now-1h", alias="from")
    to: str = "now"
    variables: dict[str, list[str] | str] = Field(default_factory=dict)
    maxDataPoints: int | None = None


class MetricsQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    expr: str
    from_: str = Field("now-1h", alias="from")
    to: str = "now"
    instant: bool = False
    maxDataPoints: int | None = None


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _config(request: Request) -> ConsoleConfig:
    return request.app.state.config


def _dashboards(request: Request) -> Dashboards:
    """One reader per app, so that unchanged files are parsed once."""
    state = request.app.state
    config = _config(request)
    reader = getattr(state, "dashboards", None)
    if reader is None or reader.directory != config.dashboards_dir:
        reader = state.dashboards = Dashboards(config.dashboards_dir)
    return reader


def _dashboard(request: Request, uid: str) -> Dashboard | JSONResponse:
    """The dashboard ``uid``, or the answer to give instead: 404 naming the dashboards there are,
    503 when the files cannot be read."""
    try:
        return _dashboards(request).get(uid)
    except DashboardNotFound as exc:
        return _message(404, str(exc))
    except DashboardError as exc:
        return _message(503, str(exc))


def _down(exc: PromAPIError) -> str:
    return f"{exc}. Is the platform up? `make up` starts it, `airscope status` shows what runs"


@router.get("/api/search")
def search(request: Request, query: str = "", tag: Annotated[list[str] | None, Query()] = None) -> Any:
    """Grafana's dashboard search: every dashboard by title, filtered by title words and tags."""
    try:
        dashboards = _dashboards(request).all()
    except DashboardError as exc:
        return _message(503, str(exc))
    wanted = query.lower().split()
    return [
        {
            "uid": d.uid,
            "title": d.title,
            "tags": list(d.tags),
            "url": d.url,
            "panels": len(d.panels()),
        }
        for d in dashboards
        if all(word in d.title.lower() for word in wanted) and all(t in d.tags for t in tag or ())
    ]


def _datasource_options(variable: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What Grafana would list in a ``datasource`` variable (the provisioned datasources it offers),
    those local mode lacks disabled and marked production only."""
    options = []
    for entry in grafana.offered(variable, datasources.datasources()):
        local = entry["uid"] == LOCAL_METRICS
        text = entry["name"] if local else entry["name"] + PRODUCTION_ONLY
        options.append({"text": text, "value": entry["uid"], **({} if local else {"disabled": True})})
    return options


def _with_datasource_options(board: Mapping[str, Any]) -> Mapping[str, Any]:
    """The dashboard with its datasource variables' options filled in, as Grafana fills them when it
    loads a dashboard (the file saves none)."""
    variables = (board.get("templating") or {}).get("list") or []
    if not any(v.get("type") == "datasource" for v in variables):
        return board
    filled = [
        {**v, "options": _datasource_options(v)} if v.get("type") == "datasource" else v for v in variables
    ]
    return {**board, "templating": {**board["templating"], "list": filled}}


@router.get("/api/dashboards/uid/{uid}")
def dashboard(request: Request, uid: str) -> Any:
    found = _dashboard(request, uid)
    if isinstance(found, JSONResponse):
        return found
    return {"dashboard": _with_datasource_options(found.json), "meta": {"slug": found.slug, "url": found.url}}


@router.get("/api/dashboards/uid/{uid}/variables")
def variables(request: Request, uid: str) -> Any:
    """The dashboard's template variables with their options, query variables' asked of Prometheus;
    ``var-<name>`` parameters choose values, as in a dashboard URL."""
    found = _dashboard(request, uid)
    if isinstance(found, JSONResponse):
        return found
    requested = _url_variables(request.query_params.multi_items())
    try:
        time_range = resolve(
            request.query_params.get("from", "now-1h"), request.query_params.get("to", "now")
        )
    except TimeRangeError as exc:
        return _message(400, str(exc))
    with _config(request).prometheus() as prometheus:
        try:
            chosen = _select(found, requested, prometheus, time_range)
        except PromAPIError as exc:
            return _message(503, _down(exc))
    return {
        "variables": [
            {
                "name": s.variable.name,
                "label": s.variable.label or s.variable.name,
                "type": s.variable.type,
                "multi": s.variable.multi,
                "includeAll": s.variable.include_all,
                "options": [{"text": t, "value": v} for t, v in s.variable.options],
                "current": list(s.values),
            }
            for s in chosen.values()
        ]
    }


def _url_variables(items: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in items:
        if key.startswith("var-"):
            found.setdefault(key[4:], []).append(value)
    return found


def _select(
    found: Dashboard, requested: Mapping[str, Any], prometheus: Prometheus, time_range: TimeRange
) -> dict[str, Selection]:
    def options_for(variable: Variable) -> list[str]:
        match = _LABEL_VALUES.match(variable.query)
        if match is None:
            return list(variable.values)  # a query the console does not run: keep the saved options
        return prometheus.label_values(
            match.group("label"), match.group("match"), time_range.from_ms / 1000, time_range.to_ms / 1000
        )

    return select(variables_of(_with_datasource_options(found.json)), requested, options_for=options_for)


def _metrics_store(
    target: Mapping[str, Any], panel: Mapping[str, Any], scope: Scope
) -> dict[str, Any] | None:
    """Why a Prometheus-type target cannot run locally (its datasource, after the dashboard's
    variables, is a store other than the local Prometheus), or None when it can."""
    source = target.get("datasource") or panel.get("datasource")
    uid = source.get("uid") if isinstance(source, Mapping) else None
    if not isinstance(uid, str) or not uid:
        return None
    resolved = interpolate(uid, scope)
    if resolved == LOCAL_METRICS:
        return None
    names = {entry["uid"]: entry["name"] for entry in datasources.datasources()}
    local = names[LOCAL_METRICS]
    if resolved not in names:
        return _error(f"datasource {resolved!r} is not one production provisions: choose {local}")
    return {
        "kind": "unsupported",
        "message": (
            f"production only: needs {names[resolved]}, which the local console does not have; "
            f"choose {local} (the local one) in the dashboard's variables"
        ),
        "query": str(target.get("expr") or ""),
    }


def _datasource_type(target: Mapping[str, Any], panel: Mapping[str, Any]) -> str:
    """The target's data source type; a name or uid alone ("Prometheus", "loki") is read as its type."""
    source = target.get("datasource") or panel.get("datasource") or "prometheus"
    if isinstance(source, Mapping):
        kind = source.get("type") or source.get("uid") or "prometheus"
    else:
        kind = str(source)
    kind = kind.lower()
    return "prometheus" if kind in ("mimir", "default", "-- grafana --") else kind


def _error(message: str) -> dict[str, Any]:
    return {"kind": "error", "message": message}


def _run_prometheus(
    prometheus: Prometheus, target: Mapping[str, Any], expr: str, time_range: TimeRange, intervals: Intervals
) -> dict[str, Any]:
    try:
        return prometheus_query.run(prometheus, target, expr, time_range, intervals)
    except PromAPIError as exc:
        if not exc.answered:
            return _error(_down(exc))
        return _error(f"Prometheus: {exc.detail}" if exc.refused_query and exc.detail else str(exc))


def _run_loki(
    config: ConsoleConfig, target: Mapping[str, Any], expr: str, time_range: TimeRange, intervals: Intervals
) -> dict[str, Any]:
    limit = int(target.get("maxLines") or DEFAULT_LOG_LINES)
    return logql.run(
        expr,
        time_range.from_ms,
        time_range.to_ms,
        intervals.step_seconds,
        config.log_dir,
        limit,
        legend_format=target.get("legendFormat"),
    )


def _run_tempo(
    config: ConsoleConfig, target: Mapping[str, Any], query: str, time_range: TimeRange
) -> dict[str, Any]:
    return traceql.run(dict(target), query, time_range.from_ms, time_range.to_ms, config.trace_dir)


def _target_frame(
    config: ConsoleConfig,
    prometheus: Prometheus,
    panel: Mapping[str, Any],
    target: Mapping[str, Any],
    time_range: TimeRange,
    selections: Mapping[str, Selection],
    max_data_points: int | None,
) -> tuple[dict[str, Any], Intervals | None]:
    kind = _datasource_type(target, panel)
    try:
        if kind == "prometheus":
            elsewhere = _metrics_store(target, panel, Scope(time_range, selections))
            if elsewhere is not None:
                return elsewhere, None
            intervals = prometheus_intervals(
                time_range,
                max_data_points,
                scrape_interval=config.scrape_interval,
                panel_interval=panel.get("interval") or None,
                min_step=target.get("interval") or None,
                interval_factor=target.get("intervalFactor"),
            )
            expr = interpolate(
                str(target.get("expr") or ""), Scope(time_range, selections, intervals), "prometheus"
            )
            return _run_prometheus(prometheus, target, expr, time_range, intervals), intervals
        if kind == "loki":
            intervals = loki_intervals(
                time_range, max_data_points, panel_interval=panel.get("interval") or None
            )
            expr = interpolate(
                str(target.get("expr") or ""), Scope(time_range, selections, intervals), "loki"
            )
            return _run_loki(config, target, expr, time_range, intervals), intervals
        if kind == "tempo":
            query = interpolate(str(target.get("query") or ""), Scope(time_range, selections), "tempo")
            return _run_tempo(config, target, query, time_range), None
    except AirscopeError as exc:
        return _error(str(exc)), None
    except Exception as exc:  # a bug in one runner shows on its panel instead of failing the page
        return _error(f"the console failed on this target ({exc.__class__.__name__}: {exc})"), None
    return {
        "kind": "unsupported",
        "message": f"production only: needs the {kind} data source, which the local console does not have",
        "query": str(target.get("expr") or target.get("query") or ""),
    }, None


@router.post("/api/ds/query")
def ds_query(request: Request, body: PanelQuery) -> Any:
    """A panel's targets, each run on its data source: ``{"results": {refId: Frame}, "interval": "15s"}``."""
    config = _config(request)
    found = _dashboard(request, body.dashboard)
    if isinstance(found, JSONResponse):
        return found
    try:
        panel = found.panel(body.panelId)
    except PanelNotFound as exc:
        return _message(404, str(exc))
    try:
        time_range = resolve(body.from_, body.to)
    except TimeRangeError as exc:
        return _message(400, str(exc))
    # A panel's own maxDataPoints wins over the browser's width, as in Grafana's query options.
    max_data_points = panel.get("maxDataPoints") or body.maxDataPoints
    targets = [t for t in panel.get("targets") or [] if not t.get("hide")]
    with config.prometheus() as prometheus:
        try:
            selections = _select(found, body.variables, prometheus, time_range)
        except PromAPIError as exc:
            return _message(503, _down(exc))
        except VariableError as exc:
            return _message(400, str(exc))

        def one(target: Mapping[str, Any]) -> tuple[dict[str, Any], Intervals | None]:
            return _target_frame(config, prometheus, panel, target, time_range, selections, max_data_points)

        if len(targets) > 1:
            with ThreadPoolExecutor(max_workers=min(len(targets), MAX_PARALLEL_TARGETS)) as pool:
                answers = list(pool.map(one, targets))
        else:
            answers = [one(t) for t in targets]
    results: dict[str, Any] = {}
    interval = None
    for index, (target, (frame, intervals)) in enumerate(zip(targets, answers, strict=True)):
        results[str(target.get("refId") or chr(ord("A") + index))] = frame
        if interval is None and intervals is not None:
            interval = format_interval(intervals.interval_ms)
    if interval is None:
        interval = format_interval(
            prometheus_intervals(
                time_range, max_data_points, scrape_interval=config.scrape_interval
            ).interval_ms
        )
    return {"results": results, "interval": interval}


@router.post("/api/explore/metrics")
def explore_metrics(request: Request, body: MetricsQuery) -> Any:
    """Explore's PromQL box: a series frame (range) or a table frame (instant); 400 with Prometheus' own
    message for a query it refuses, 503 when it is down."""
    config = _config(request)
    if not body.expr.strip():
        return _message(400, "the query is empty: type a PromQL expression, e.g. `up`")
    try:
        time_range = resolve(body.from_, body.to)
    except TimeRangeError as exc:
        return _message(400, str(exc))
    intervals = prometheus_intervals(time_range, body.maxDataPoints, scrape_interval=config.scrape_interval)
    expr = interpolate(body.expr, Scope(time_range, {}, intervals), "prometheus")
    target = {"expr": expr, "instant": body.instant, "format": "table" if body.instant else "time_series"}
    with config.prometheus() as prometheus:
        try:
            return prometheus_query.run(prometheus, target, expr, time_range, intervals)
        except PromAPIError as exc:
            if not exc.answered:
                return _message(503, _down(exc))
            if exc.refused_query and exc.detail:
                return _message(400, exc.detail)
            if exc.status == 200:  # answered, but not with what the box draws (a range vector as an instant)
                return _message(400, str(exc))
            return _message(502, str(exc))
