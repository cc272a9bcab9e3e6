"""Every Prometheus query of every generated dashboard panel, and the panels whose queries all
return nothing over a window."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from airscope.promapi import PromAPIError, Prometheus
from airscope.stack.grafana import dashboards
from airscope.stack.grafana.datasources import TYPES

# By type: a panel reads Prometheus or Mimir through the dashboard's datasource variable (its uid is
# "${datasource}"), and either answers the same queries.
PROMETHEUS_TYPE = TYPES["prometheus"]
# What Grafana puts for its own variables when a dashboard is viewed at the local profile's 5 s
# scrape interval: $__rate_interval is at least four scrapes.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s"}
STEP_SECONDS = 15  # of the range queries: Grafana's step for a short window

# Panels that are rightly empty under normal load, with why. Keyed by (dashboard title, panel
# title); a value of None means for every value of the dashboard's variables, else for those listed.
MAY_BE_EMPTY: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("airscope / Overview", "Firing alerts"): None,  # nothing fires under normal load
    # Only a real browser sends web vitals (the frontend's e2e test drives one; `airscope load` doesn't).
    ("airscope / Frontend (real users)", "Web vitals p75 by name"): None,
    ("airscope / Frontend (real users)", "Cumulative layout shift p75 by page"): None,
    # `airscope load` goes through the gateway; only a browser asks the frontend, and its probes and
    # scrapes are no requests (settings.KIT_ROUTES): with none, there is no share and no burn rate.
    ("airscope / Service", "5xx share"): ("frontend",),
    ("airscope / Service", "Availability SLO burn rate"): ("frontend",),
    ("airscope / Service", "Latency SLO burn rate"): ("frontend",),
    # The same on the SLO dashboard: no requests, no budget (nor anything spending it); the SLI panels
    # still draw the objective.
    **{
        ("airscope / SLO error budgets", title): ("frontend",)
        for sli in ("Availability", "Latency")
        for title in (f"{sli} budget left", f"{sli} burn rate (1h, 6h, 3d)", f"{sli} bad requests per minute")
    },
    ("airscope / SLO error budgets", "Requests per minute the budgets count"): ("frontend",),
}


# Dashboards with nothing to show locally at all, with why.
EMPTY_LOCALLY: dict[str, str] = {
    "airscope / Containers": "local mode runs no containers and no cAdvisor (its panels are production's)",
}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str
    variables: tuple[tuple[str, str], ...]  # the dashboard variables' values it was expanded with

    def name(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.variables)
        return f"{self.dashboard} / {self.panel}" + (f" [{where}]" if where else "")


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def _options(dashboard: dict) -> dict[str, list[str]]:
    return {
        variable["name"]: [
            o["value"] for o in variable.get("options", []) if o.get("value") not in (None, "$__all")
        ]
        for variable in dashboard.get("templating", {}).get("list", [])
    }


def _expanded(dashboard: dict, panel: dict, expr: str, options: dict[str, list[str]]) -> Iterator[PanelQuery]:
    """``expr`` once per combination of the values of the dashboard variables it uses."""
    used = sorted(name for name in options if re.search(rf"\$\{{?{name}\b", expr))
    for values in itertools.product(*(options[name] for name in used)):
        text = expr
        for name, value in [*zip(used, values, strict=True), *GRAFANA_VARIABLES.items()]:
            text = re.sub(rf"\$\{{?{name}\}}?", value, text)
        yield PanelQuery(dashboard["title"], panel["title"], text, tuple(zip(used, values, strict=True)))


def panel_queries(root: Path) -> list[PanelQuery]:
    """Every Prometheus query of every panel, once per value of the dashboard variables it uses."""
    queries = []
    for path in sorted((root / dashboards.DIRECTORY).glob("*.json")):
        dashboard = json.loads(path.read_text())
        options = _options(dashboard)
        for panel in _panels(dashboard.get("panels", [])):
            panel_source = (panel.get("datasource") or {}).get("type")
            for target in panel.get("targets", []):
                source = (target.get("datasource") or {}).get("type") or panel_source
                expr = target.get("expr")
                if source == PROMETHEUS_TYPE and expr:
                    queries += _expanded(dashboard, panel, expr, options)
    return queries


def _has_data(prometheus: Prometheus, expr: str, start: float, end: float) -> bool:
    return bool(prometheus.query_range(expr, start, end, STEP_SECONDS))


def empty_panels(root: Path, prometheus: Prometheus, start: float, end: float) -> list[str]:
    """The panels (per variable value) whose every query returned nothing over [start, end]."""
    by_panel: dict[tuple, list[PanelQuery]] = {}
    for query in panel_queries(root):
        by_panel.setdefault((query.dashboard, query.panel, query.variables), []).append(query)
    problems = []
    for (dashboard, panel, variables), queries in by_panel.items():
        allowed = None if dashboard in EMPTY_LOCALLY else MAY_BE_EMPTY.get((dashboard, panel), ())
        if allowed is None or any(value in allowed for _, value in variables):
            continue
        try:
            if not any(_has_data(prometheus, q.expr, start, end) for q in queries):
                problems.append(f"{queries[0].name()}: no data ({queries[0].expr})")
        except PromAPIError as exc:
            problems.append(f"{queries[0].name()}: Prometheus refused the query: {exc}")
    return problems
