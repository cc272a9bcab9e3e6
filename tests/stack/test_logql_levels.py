"""`airscope check`'s Loki query check: "All" keeps the lines without a level, and Loki accepts it."""

from __future__ import annotations

import json

from airscope.stack.checks import logql_levels
from airscope.stack.grafana import dashboard_path
from airscope.stack.grafana.dashboards import logs

LOGS = dashboard_path(logs.UID)


def _variables(root) -> dict:
    board = json.loads((root / LOGS).read_text())
    return {v["name"]: v for v in board["templating"]["list"]}


def _set_variable(root, name: str, **changes) -> None:
    path = root / LOGS
    board = json.loads(path.read_text())
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == name]
    for key, value in changes.items():
        if value is None:
            variable.pop(key, None)
        else:
            variable[key] = value
    path.write_text(json.dumps(board))


def test_the_generated_dashboards_pass(deployed):
    assert logql_levels.check(deployed) == []
    variables = _variables(deployed)
    assert variables["level"]["allValue"] == ".*" and variables["service"]["allValue"] == ".+"


def test_a_level_all_that_drops_unlabelled_lines_is_reported(deployed):
    _set_variable(deployed, "level", allValue=".+")
    problems = logql_levels.check(deployed)
    # The two volume panels and the Logs panel filter on $level; the error panel names its levels.
    assert len(problems) == 3
    assert all(p.startswith(f"{LOGS}: panel ") for p in problems)
    assert any("panel 'Logs' targets[0]" in p for p in problems)
    assert all(
        '`level=~"$level"` at "All" is `.+`, which drops the lines with no level label' in p
        and 'allValue matching the empty value, such as ".*"' in p
        for p in problems
    )


def test_a_level_all_that_joins_every_level_is_reported_too(deployed):
    # Without allValue Grafana joins the values, (debug|info|...): a line without a level matches none.
    _set_variable(deployed, "level", allValue=None)
    problems = logql_levels.check(deployed)
    assert len(problems) == 3
    assert all('at "All" is `(debug|info|warning|error|critical)`' in p for p in problems)


def test_all_at_the_empty_value_everywhere_is_reported_as_refused_by_loki(deployed):
    _set_variable(deployed, "service", allValue=".*")
    problems = logql_levels.check(deployed)
    assert len(problems) == 3
    assert all("every matcher matches the empty value, which Loki refuses" in p for p in problems)


def test_an_exact_match_on_a_label_that_may_be_absent_is_reported():
    variables = {"level": {"name": "level", "includeAll": True, "allValue": ".*"}}
    assert logql_levels.query_problems('{service="api-gateway", level="$level"}', variables) == [
        '`level="$level"`: "All" cannot be an exact value; use =~'
    ]
    # A fixed choice of levels is the query's own business (the error panel).
    assert logql_levels.query_problems('{service=~".+", level=~"error|critical"}', variables) == []
