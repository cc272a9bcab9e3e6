"""Grafana as code: provisioned datasources, the dashboard provider, and the dashboards built with
grafana-foundation-sdk from the catalog and ``settings``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from airscope.catalog import Catalog
from airscope.stack.grafana import dashboards, datasources
from airscope.stack.grafana.dashboards import panels

PROMETHEUS_TYPE = datasources.TYPES["prometheus"]
HIDDEN = 2  # a template variable's `hide`: 2 hides it altogether, so no one can change its value


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


def _js_regex(text: str) -> re.Pattern[str] | None:
    """A variable's regex as Grafana reads it (stringToJsRegex: ``/body/flags`` or a bare body)."""
    body, flags = text, 0
    end = text.rfind("/")
    if text.startswith("/") and end > 0:
        body, flags = text[1:end], re.IGNORECASE if "i" in text[end + 1 :] else 0
    try:
        return re.compile(body, flags)
    except re.error:
        return None


def offered(variable: Mapping, entries: Iterable[Mapping]) -> list[Mapping]:
    """The provisioned datasources (``entries``, as datasources.yml lists them) a ``datasource``
    template variable lets a user choose, as Grafana lists them: those of the plugin type its
    ``query`` names whose name its ``regex`` matches; none when the variable is hidden."""
    if variable.get("type") != "datasource" or variable.get("hide") == HIDDEN:
        return []
    regex = str(variable.get("regex") or "")
    pattern = _js_regex(regex) if regex else None
    if regex and pattern is None:
        return []  # Grafana shows an error and no choice
    return [
        entry
        for entry in entries
        if entry.get("type") == variable.get("query")
        and (pattern is None or pattern.search(str(entry.get("name") or "")))
    ]
