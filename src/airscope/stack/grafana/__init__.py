"""Grafana as code: provisioned datasources, the dashboard provider, and the dashboards built with
grafana-foundation-sdk from the catalog and ``settings``."""

from __future__ import annotations

import json
from collections.abc import Iterator

from airscope.catalog import Catalog
from airscope.stack.grafana import dashboards, datasources
from airscope.stack.grafana.dashboards import panels

PROMETHEUS_TYPE = datasources.TYPES["prometheus"]


def dashboard_path(uid: str) -> str:
    return f"{dashboards.DIRECTORY}/{uid}.json"


def generate(catalog: Catalog) -> dict[str, str]:
    files = {**datasources.generate(), **dashboards.provider()}
    for board in dashboards.build_all(catalog):
        files[dashboard_path(board.build().uid)] = panels.encode(board)
    return files


def walk_panels(board: dict) -> Iterator[dict]:
    """Every panel of a dashboard's JSON, those nested in collapsed rows included."""
    for panel in board.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def promql_expressions(files: dict[str, str]) -> list[tuple[str, str]]:
    """(where, expr) of every query to a Prometheus-type datasource in the dashboards among
    ``files``, with Grafana's variables ($service, $__rate_interval, ...) left in."""
    found = []
    for path, content in sorted(files.items()):
        if not (path.startswith(f"{dashboards.DIRECTORY}/") and path.endswith(".json")):
            continue
        for panel in walk_panels(json.loads(content)):
            if (panel.get("datasource") or {}).get("type") != PROMETHEUS_TYPE:
                continue
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    where = f"{path}: panel {panel.get('title')!r}, query {target.get('refId')}"
                    found.append((where, target["expr"]))
    return found
