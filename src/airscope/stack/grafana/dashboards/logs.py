"""Logs across services: volume by level and by service, the lines themselves, and errors alone.

Loki's labels are ``settings.LOG_LABELS``; trace_id and span_id are structured metadata, which the
Loki datasource turns into links to the trace.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from airscope.catalog import Catalog
from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import logql

UID = "airscope-logs"
TITLE = "airscope / Logs"
# The level names structlog writes (the kit's `level` field, which Alloy makes a label).
LEVELS = ("debug", "info", "warning", "error", "critical")
ERROR_LEVELS = ("error", "critical")

STREAM = '{service=~"$service", level=~"$level"}'


def _multi(name: str, label: str, values: list[str]) -> dashboard.CustomVariable:
    # "All" as a regex rather than every value joined: short queries, and new values still match.
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(model.VariableOption(text=["All"], value=["$__all"]))
        .options([model.VariableOption(text=value, value=value) for value in values])
    )


def _volume(by: str):
    return panels.timeseries_panel(
        f"Log lines by {by}",
        [logql(f"sum by ({by}) (count_over_time({STREAM}[$__interval]))", f"{{{{{by}}}}}")],
        datasource="loki",
        bars=True,
        stacked=True,
    )


def build(catalog: Catalog):
    errors = "|".join(ERROR_LEVELS)
    board = (
        panels.board(UID, TITLE, "Log volume and lines of the selected services and levels.", tags=["logs"])
        .with_variable(_multi("service", "Service", list(catalog.services)))
        .with_variable(_multi("level", "Level", list(LEVELS)))
    )
    rows = [
        ("Volume", [_volume("level"), _volume("service")]),
        (
            "Lines",
            [
                panels.logs_panel("Logs", f"{STREAM} | json", height=16),
                panels.logs_panel(
                    "Error lines",
                    f'{{service=~"$service", level=~"{errors}"}} | json',
                    description="Whatever the level filter: every error and critical line.",
                ),
            ],
        ),
    ]
    return panels.with_rows(board, rows)
