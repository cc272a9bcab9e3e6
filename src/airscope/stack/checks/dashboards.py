"""Grafana's generated files, read back from disk: every dashboard loads into grafana-foundation-sdk's
model and back without losing a key, is unique, queries only provisioned datasources, and can read
its metrics from the long-term store (Mimir); every link between datasources points at one that
exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from airscope.stack import settings
from airscope.stack.grafana import dashboards, datasources, offered, walk_panels
from airscope.stack.grafana.dashboards import panels

UIDS = frozenset(settings.DATASOURCE_UIDS.values())
METRICS_TYPE = datasources.TYPES["prometheus"]
LONG_TERM = settings.DATASOURCE_UIDS["mimir"]
# A datasource named by a template variable: $name, ${name}, ${name:format} or [[name]].
VARIABLE_REF = re.compile(r"^\$(\w+)$|^\$\{(\w+)(?::[^}]*)?\}$|^\[\[(\w+)\]\]$")
# LogQL stream selectors: the matchers between braces, and each matcher's label.
SELECTOR = re.compile(r"\{([^{}]*)\}")
MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


def _difference(written, decoded, where: str = "") -> str | None:
    """The first path at which two JSON values differ."""
    if isinstance(written, dict) and isinstance(decoded, dict):
        for key in sorted(set(written) | set(decoded)):
            if key not in decoded:
                return f"{where}.{key} is dropped"
            if key not in written:
                return f"{where}.{key} is added"
            found = _difference(written[key], decoded[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(written, list) and isinstance(decoded, list) and len(written) == len(decoded):
        for index, (a, b) in enumerate(zip(written, decoded, strict=True)):
            found = _difference(a, b, f"{where}[{index}]")
            if found:
                return found
        return None
    return None if written == decoded else f"{where or '.'} changes"


def _round_trip(name: str, board: dict) -> list[str]:
    try:
        decoded = json.loads(JSONEncoder().encode(Dashboard.from_json(board)))
    except Exception as exc:  # the SDK raises whatever its decoders hit on malformed input
        return [f"{name}: grafana-foundation-sdk cannot load it: {exc!r}"]
    found = _difference(board, decoded)
    return [f"{name}: does not round-trip through grafana-foundation-sdk: {found}"] if found else []


def _uid(reference: object) -> object:
    # Old dashboards name a datasource by a bare string rather than a {type, uid} reference.
    return reference.get("uid") if isinstance(reference, dict) else reference


def _variable_name(uid: object) -> str | None:
    match = VARIABLE_REF.match(uid) if isinstance(uid, str) else None
    return next((group for group in match.groups() if group), None) if match else None


def _datasource_variables(board: dict) -> dict[str, dict]:
    return {
        variable["name"]: variable
        for variable in (board.get("templating") or {}).get("list") or []
        if variable.get("type") == "datasource" and variable.get("name")
    }


def _unknown(uid: object, board: dict) -> str | None:
    """What is wrong with a datasource uid: neither provisioned nor a datasource variable of this
    dashboard (Grafana offers such a variable's choosers provisioned datasources only)."""
    if uid in UIDS:
        return None
    name = _variable_name(uid)
    if name is None:
        return f"datasource uid {uid!r} is not one of {sorted(UIDS)}"
    if name not in _datasource_variables(board):
        return f"datasource {uid!r} names no datasource variable of this dashboard"
    return None


def _panel_problems(name: str, board: dict) -> list[str]:
    problems = []
    for panel in walk_panels(board):
        if panel.get("type") == "row":
            continue
        label = f"{name}: panel {panel.get('title')!r}"
        uid = _uid(panel.get("datasource"))
        wrong = _unknown(uid, board)
        if wrong:
            problems.append(f"{label}: {wrong}")
        for index, target in enumerate(panel.get("targets") or []):
            if not target.get("refId"):
                problems.append(f"{label}: targets[{index}] has no refId")
            target_uid = _uid(target.get("datasource"))
            wrong = _unknown(target_uid, board) if target_uid is not None else None
            if wrong:
                problems.append(f"{label}: targets[{index}] {wrong}")
            if uid == settings.DATASOURCE_UIDS["loki"]:
                problems += _log_label_problems(f"{label}: targets[{index}]", target.get("expr", ""))
    return problems


def _log_label_problems(label: str, logql: str) -> list[str]:
    # Loki has only the labels Alloy sets; any other selector matches no stream at all.
    used = {name for selector in SELECTOR.findall(logql) for name in MATCHER_LABEL.findall(selector)}
    return [
        f"{label}: LogQL selects label {name!r}, which is not a Loki label {list(settings.LOG_LABELS)}"
        for name in sorted(used - set(settings.LOG_LABELS))
    ]


def _long_term_problems(name: str, board: dict, provisioned: list[dict]) -> list[str]:
    """A dashboard whose metrics panels cannot be switched to Mimir shows nothing past Prometheus'
    retention: each needs the dashboard's datasource variable offering Mimir, or Mimir itself."""
    mimir = next((entry for entry in provisioned if entry.get("uid") == LONG_TERM), None)
    if mimir is None:
        return []  # the datasources check says it is missing
    variables = _datasource_variables(board)
    offering = {key for key, variable in variables.items() if mimir in offered(variable, provisioned)}
    retention = settings.PROMETHEUS_RETENTION_TIME
    problems = []
    reads_metrics = False
    for panel in walk_panels(board):
        if panel.get("type") == "row":
            continue
        label = f"{name}: panel {panel.get('title')!r}"
        for target in panel.get("targets") or []:
            source = target.get("datasource") or panel.get("datasource")
            if not (isinstance(source, dict) and source.get("type") == METRICS_TYPE and target.get("expr")):
                continue
            reads_metrics = True
            uid = source.get("uid")
            variable = _variable_name(uid)
            if variable in offering or uid == LONG_TERM:
                continue
            if variable in variables:
                problems.append(
                    f"{label}: reads ${{{variable}}}, which does not offer {mimir.get('name')} (a datasource "
                    f"variable with query {METRICS_TYPE!r}, not hidden, its regex matching the name): past "
                    f"{retention} it shows nothing"
                )
            elif uid in UIDS:
                problems.append(
                    f"{label}: pinned to datasource uid {uid!r}, so it shows nothing past {retention}; "
                    f"read ${{{panels.DATASOURCE_VARIABLE}}} (panels.source('{panels.METRICS}') does)"
                )
            break  # one problem a panel
    if reads_metrics and not offering:
        problems.insert(
            0,
            f"{name}: has Prometheus queries but no datasource variable offering {mimir.get('name')} "
            f"(type datasource, query {METRICS_TYPE!r}; panels.board() adds one)",
        )
    for key in sorted(offering):
        default = (variables[key].get("current") or {}).get("value")
        if default not in UIDS:
            problems.append(f"{name}: variable {key!r} defaults to {default!r}, not a provisioned uid")
    return problems


def _provisioned(root: Path) -> list[dict]:
    try:
        document = yaml.safe_load((root / datasources.PATH).read_text())
    except (OSError, yaml.YAMLError):
        return []  # the datasources check reports it
    return [entry for entry in (document or {}).get("datasources") or [] if isinstance(entry, dict)]


def _dashboards(root: Path) -> list[str]:
    directory = root / dashboards.DIRECTORY
    files = sorted(directory.glob("*.json"))
    if not files:
        return [f"{dashboards.DIRECTORY}: no dashboards"]
    register_default_plugins()
    provisioned = _provisioned(root)
    problems: list[str] = []
    seen: dict[str, dict[str, str]] = {"uid": {}, "title": {}}
    for path in files:
        name = f"{dashboards.DIRECTORY}/{path.name}"
        try:
            board = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            problems.append(f"{name}: not JSON: {exc}")
            continue
        problems += _round_trip(name, board)
        for key in ("uid", "title"):
            value = board.get(key)
            if not value:
                problems.append(f"{name}: has no {key}")
            elif value in seen[key]:
                problems.append(f"{name}: {key} {value!r} is also the {key} of {seen[key][value]}")
            else:
                seen[key][value] = name
        if board.get("uid") and path.stem != board["uid"]:
            problems.append(f"{name}: uid {board['uid']!r} differs from the file name")
        problems += _long_term_problems(name, board, provisioned)
        problems += _panel_problems(name, board)
    return problems


def _references(json_data: dict) -> list[tuple[str, object]]:
    """(key, uid) of every link from one datasource's jsonData to another datasource."""
    refs = [
        (f"jsonData.{key}.datasourceUid", json_data[key].get("datasourceUid"))
        for key in ("tracesToLogsV2", "tracesToMetrics", "tracesToProfiles", "serviceMap", "lokiSearch")
        if isinstance(json_data.get(key), dict)
    ]
    for key in ("derivedFields", "exemplarTraceIdDestinations"):
        for index, entry in enumerate(json_data.get(key) or []):
            # An entry without datasourceUid is an external URL link.
            if "datasourceUid" in entry:
                refs.append((f"jsonData.{key}[{index}].datasourceUid", entry["datasourceUid"]))
    return refs


def _datasources(root: Path) -> list[str]:
    name = datasources.PATH
    try:
        document = yaml.safe_load((root / name).read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [f"{name}: cannot be read: {exc}"]
    entries = (document or {}).get("datasources") or []
    problems = []
    provisioned = [entry.get("uid") for entry in entries]
    for uid in sorted(UIDS - set(provisioned)):
        problems.append(f"{name}: datasources has no datasource with uid {uid!r}")
    for uid in sorted({uid for uid in provisioned if provisioned.count(uid) > 1}, key=str):
        problems.append(f"{name}: datasources has uid {uid!r} more than once")
    defaults = [entry.get("uid") for entry in entries if entry.get("isDefault")]
    if len(defaults) != 1:
        # Grafana refuses to start with two defaults in one organisation.
        problems.append(f"{name}: isDefault must be set on exactly one datasource, not on {defaults}")
    for entry in entries:
        for key, uid in _references(entry.get("jsonData") or {}):
            if uid not in provisioned:
                problems.append(
                    f"{name}: datasource {entry.get('uid')!r} {key} {uid!r} is not a provisioned uid"
                )
    return problems


def check(root: Path) -> list[str]:
    return _datasources(root) + _dashboards(root)
