"""Logs across services and the stack's own containers: volume by level and by service, the lines
themselves, and errors alone.

Loki's labels are ``settings.LOG_LABELS``; trace_id and span_id are structured metadata, and the
lines of kept traces carry ``settings.LOG_SAMPLED_TRACE_ID``, which the Loki datasource turns into
a link to the trace.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from airscope.catalog import Catalog
from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import logql

UID = "airscope-logs"
TITLE = "airscope / Logs"
# The `level` label's closed set (structlog's names; Alloy maps the stack's own onto them).
LEVELS = settings.LOG_LEVELS
ERROR_LEVELS = ("error", "critical")
# "All" as a regex rather than every value joined: short queries, and new values still match.
# Every line has a service, so ".+" (Loki wants one matcher that cannot match an empty value); a
# line may have no level (a traceback or crash output before logging starts, a stack program's
# line Alloy cannot place), so ".*": ".+" would hide exactly the lines of a service that will not start.
ALL_SERVICES = ".+"
ALL_LEVELS = ".*"

STREAM = '{service=~"$service", level=~"$level"}'


def _multi(name: str, label: str, values: list[str], all_value: str) -> dashboard.CustomVariable:
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .multi(True)
        .include_all(True)
        .all_value(all_value)
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


def services(catalog: Catalog) -> list[str]:
    """Every compose service, whose containers all ship their logs: the platform's, then the stack's."""
    # Imported here: compose's Grafana container names the dashboards' directory, so compose
    # imports this package.
    from airscope.stack import compose

    return list(compose.compose(catalog)["services"])


def build(catalog: Catalog):
    errors = "|".join(ERROR_LEVELS)
    board = (
        panels.board(
            UID,
            TITLE,
            "Log volume and lines of the selected services and levels; lines without a level (a crash "
            "before logging starts) are in All.",
            tags=["logs"],
        )
        .with_variable(_multi("service", "Service", services(catalog), ALL_SERVICES))
        .with_variable(_multi("level", "Level", list(LEVELS), ALL_LEVELS))
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
