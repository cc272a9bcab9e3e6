"""The Loki queries of the dashboards, with each template variable at "All": a label some lines lack
(``level``) must not drop them, and Loki must accept the selector.

A line Alloy cannot give a level (a traceback or crash output before a service's logging starts, a
stack program's line of an unknown format) has no ``level`` label, and an absent label is the empty
value to Loki: ``level=~".+"`` hides exactly the lines of a service that will not start. Loki also
refuses a selector whose every positive matcher matches the empty value, so ``.*`` everywhere is
no fix either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from airscope.stack import settings
from airscope.stack.grafana import dashboards, walk_panels

LOKI = settings.DATASOURCE_UIDS["loki"]
# Alloy sets these on every line (the container's compose service or the browser's, the source's
# environment); any other label may be absent from a line.
ALWAYS_SET = frozenset({"service", "environment"})
MAY_BE_ABSENT = frozenset(settings.LOG_LABELS) - ALWAYS_SET

SELECTOR = re.compile(r"\{([^{}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)')
# A matcher's whole value naming a variable: $name, ${name}, ${name:format} or [[name]].
VARIABLE = re.compile(r"^\$(\w+)$|^\$\{(\w+)(?::[^}]*)?\}$|^\[\[(\w+)\]\]$")


def _unquote(text: str) -> str:
    return text[1:-1] if text.startswith("`") else json.loads(text)


def _all_value(variable: dict) -> str:
    """What the variable becomes at "All": its allValue, else Grafana's join of every value."""
    if variable.get("allValue") not in (None, ""):
        return str(variable["allValue"])
    values = [str(option.get("value")) for option in variable.get("options") or []]
    values = [value for value in values if value not in ("$__all", "")]
    return "(" + "|".join(re.escape(value) for value in values) + ")"


def _matches_empty(op: str, value: str) -> bool:
    if op in ("=", "!="):
        return (value == "") == (op == "=")
    try:
        found = re.fullmatch(value, "") is not None
    except re.error:
        return False  # the PromQL and LogQL checks report a regex that does not compile
    return found == (op == "=~")


def _loki_queries(board: dict) -> Iterator[tuple[str, str]]:
    for panel in walk_panels(board):
        panel_loki = _uid(panel.get("datasource")) == LOKI
        for index, target in enumerate(panel.get("targets") or []):
            uid = _uid(target.get("datasource"))
            if (uid == LOKI or (uid is None and panel_loki)) and target.get("expr"):
                yield f"panel {panel.get('title')!r} targets[{index}]", target["expr"]


def _uid(reference: object) -> object:
    return reference.get("uid") if isinstance(reference, dict) else reference


def query_problems(expr: str, variables: dict[str, dict]) -> list[str]:
    """What is wrong with one LogQL query once every variable that offers "All" is at "All"."""
    problems = []
    for selector in SELECTOR.findall(expr):
        positive_non_empty = False
        for label, op, quoted in MATCHER.findall(selector):
            value = _unquote(quoted)
            reference = VARIABLE.match(value)
            name = next((g for g in reference.groups() if g), None) if reference else None
            variable = variables.get(name) if name else None
            if variable is not None and variable.get("includeAll"):
                value = _all_value(variable)
                if label in MAY_BE_ABSENT:
                    if op == "=":
                        problems.append(f'`{label}="${name}"`: "All" cannot be an exact value; use =~')
                    elif op == "=~" and not _matches_empty(op, value):
                        problems.append(
                            f'`{label}=~"${name}"` at "All" is `{value}`, which drops the '
                            f"lines with no {label} label (a crash's output before logging starts): "
                            f'give ${name} an allValue matching the empty value, such as ".*"'
                        )
            if op in ("=", "=~") and not _matches_empty(op, value):
                positive_non_empty = True
        if not positive_non_empty:
            problems.append(
                f'`{{{selector}}}` at "All": every matcher matches the empty value, which Loki refuses '
                '(keep one that cannot, e.g. service=~".+")'
            )
    return problems


def check(root: Path) -> list[str]:
    """Problems of the Loki queries in the dashboards under root/deploy."""
    directory = root / dashboards.DIRECTORY
    problems = []
    for path in sorted(directory.glob("*.json")):
        where = f"{dashboards.DIRECTORY}/{path.name}"
        try:
            board = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{where}: cannot be read: {exc}")
            continue
        variables = {v["name"]: v for v in (board.get("templating") or {}).get("list") or [] if v.get("name")}
        for label, expr in _loki_queries(board):
            problems += [f"{where}: {label}: {p}" for p in query_problems(expr, variables)]
    return problems
