"""deploy/slo/ against each tool's pinned schema (schemas/README.md says where each comes from).

The schemas say what a tool's loader accepts; a few rules each tool enforces in code come on top:
Sloth's queries must hold its window template and every query must parse as PromQL, Pyrra's target
is a percentage and its latency indicator needs a bucket (an `le` matcher).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import jsonschema
import promql_parser
import yaml
from referencing import Registry, Resource

from airscope.stack import slo_specs

SCHEMAS = Path(__file__).with_name("schemas")
# Sloth's spec file keys and its CRD's for the same Go fields (pkg/prometheus/api/v1 and
# pkg/kubernetes/api/sloth/v1): the CRD is the only schema Sloth publishes.
SLOTH_CRD_NAMES = {
    "slo_plugins": "sloPlugins",
    "error_query": "errorQuery",
    "total_query": "totalQuery",
    "error_ratio_query": "errorRatioQuery",
    "page_alert": "pageAlert",
    "ticket_alert": "ticketAlert",
}
SLOTH_WINDOW = re.compile(r"{{ *\.window *}}")  # Sloth's own pattern (pkg/common/conventions)
# Prometheus' own duration syntax (model.ParseDuration), which Pyrra parses its window with.
PROMETHEUS_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


@cache
def _openslo() -> jsonschema.Draft7Validator:
    resources = [
        Resource.from_contents(json.loads(path.read_text()))
        for path in sorted((SCHEMAS / "openslo" / "v1").rglob("*.schema.json"))
    ]
    registry = Registry().with_resources((resource.id(), resource) for resource in resources)
    root = next(r for r in resources if r.id().endswith("/v1/openslo.schema.json"))
    return jsonschema.Draft7Validator(root.contents, registry=registry)


def _crd_schema(crd: dict) -> dict:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


@cache
def _sloth() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load((SCHEMAS / "sloth" / "sloth.slok.dev_prometheusservicelevels.yaml").read_text())
    return jsonschema.Draft7Validator(_crd_schema(crd)["properties"]["spec"])


@cache
def _pyrra() -> jsonschema.Draft7Validator:
    crd = json.loads((SCHEMAS / "pyrra" / "pyrra.dev_servicelevelobjectives.json").read_text())
    return jsonschema.Draft7Validator(_crd_schema(crd))


def _schema_problem(validator: jsonschema.Draft7Validator, document: object) -> list[str]:
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return []
    # A message quotes the failing value: whole SLIs for a `oneOf` rule, too long to read.
    message = error.message if len(error.message) <= 200 else f"fails the schema's {error.validator!r} rule"
    return [f"{message} (at {error.json_path})"]


def _unknown_keys(schema: dict, value: object, path: str = "$") -> list[str]:
    """The keys a CRD's schema does not know: Kubernetes drops them, Sloth ignores them, Pyrra refuses
    them. Maps of data (labels) and free-form fields have no `properties` and are left alone."""
    if isinstance(value, dict) and "properties" in schema:
        known = schema["properties"]
        return [f"{path}.{key}" for key in value if key not in known] + [
            found
            for key, item in value.items()
            if key in known
            for found in _unknown_keys(known[key], item, f"{path}.{key}")
        ]
    if isinstance(value, list) and "items" in schema:
        return [
            found
            for i, item in enumerate(value)
            for found in _unknown_keys(schema["items"], item, f"{path}[{i}]")
        ]
    return []


def _promql(query: object, what: str) -> list[str]:
    if not isinstance(query, str):
        return [f"{what} is not a query"]
    try:
        promql_parser.parse(query)
    except ValueError as error:
        return [f"{what} does not parse as PromQL: {error}"]
    return []


def _renamed(value: object) -> object:
    """A Sloth spec with its CRD's key names; label and annotation maps keep theirs (they are data)."""
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        SLOTH_CRD_NAMES.get(key, key): item if key in ("labels", "annotations") else _renamed(item)
        for key, item in value.items()
    }


def _openslo_problems(document: dict) -> list[str]:
    problems = _schema_problem(_openslo(), document)
    if problems or document.get("kind") != "SLO":
        return problems
    ratio = document["spec"].get("indicator", {}).get("spec", {}).get("ratioMetric", {})
    for part in ("good", "bad", "total"):
        if part in ratio:
            query = ratio[part]["metricSource"]["spec"].get("query")
            problems += _promql(query, f"ratioMetric.{part} query")
    return problems


def _sloth_problems(document: dict) -> list[str]:
    if document.get("version") != "prometheus/v1":
        return [f"version is {document.get('version')!r}, expected 'prometheus/v1'"]
    spec = _renamed({key: item for key, item in document.items() if key != "version"})
    problems = _schema_problem(_sloth(), spec)
    if problems:
        return problems
    problems += [f"unknown key {key}: Sloth ignores it" for key in _unknown_keys(_sloth().schema, spec)]
    for slo in document.get("slos", []):
        if not 0 < slo["objective"] <= 100:
            problems.append(
                f"SLO {slo['name']}: objective {slo['objective']} is not a percentage in (0, 100]"
            )
        for key, query in slo["sli"].get("events", {}).items():
            what = f"SLO {slo['name']}: {key}"
            if not isinstance(query, str) or not SLOTH_WINDOW.search(query):
                problems.append(f"{what} lacks Sloth's window template {slo_specs.WINDOW}")
                continue
            problems += _promql(SLOTH_WINDOW.sub("5m", query), what)
    return problems


def _pyrra_problems(document: dict) -> list[str]:
    if (document.get("apiVersion"), document.get("kind")) != ("pyrra.dev/v1alpha1", "ServiceLevelObjective"):
        return ["not a pyrra.dev/v1alpha1 ServiceLevelObjective"]
    problems = _schema_problem(_pyrra(), document)
    if problems:
        return problems
    problems += [
        f"unknown key {key}: Pyrra refuses the file" for key in _unknown_keys(_pyrra().schema, document)
    ]
    spec = document["spec"]
    try:
        target = float(spec["target"])
    except ValueError:
        target = -1.0
    if not 0 <= target <= 100:
        problems.append(f"target {spec['target']!r} is not a percentage from 0 to 100")
    if not spec["window"] or not PROMETHEUS_DURATION.match(spec["window"]):
        problems.append(f"window {spec['window']!r} is not a Prometheus duration")
    for kind, indicator in spec["indicator"].items():
        for part, metric in indicator.items():
            if isinstance(metric, dict) and "metric" in metric:
                problems += _promql(metric["metric"], f"indicator.{kind}.{part}.metric")
    success = spec["indicator"].get("latency", {}).get("success", {}).get("metric")
    if isinstance(success, str) and not _promql(success, "") and not _bucket(success):
        problems.append("indicator.latency.success.metric has no `le` matcher with a number: Pyrra needs one")
    return problems


def _bucket(selector: str) -> bool:
    """True when a selector picks one histogram bucket by a numeric `le`, as Pyrra requires."""
    parsed = promql_parser.parse(selector)
    matchers = parsed.matchers.matchers if isinstance(parsed, promql_parser.VectorSelector) else []
    for matcher in matchers:
        if matcher.name == "le":
            try:
                float(matcher.value)
            except ValueError:
                return False
            return True
    return False


def _where(relative: str, index: int, document: dict) -> str:
    name = document.get("metadata", {}).get("name") or document.get("service")
    return f"{relative} document {index}" + (f" ({name})" if name else "")


def _check_file(root: Path, relative: str, problems_of: Callable[[dict], list[str]]) -> list[str]:
    path = root / relative
    if not path.is_file():
        return [f"{relative}: missing; run `.venv/bin/airscope gen`"]
    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as error:
        return [f"{relative}: not valid YAML: {error}"]
    problems = []
    for index, document in enumerate(documents, 1):
        if not isinstance(document, dict):
            problems.append(f"{relative} document {index}: not a YAML mapping")
            continue
        problems += [f"{_where(relative, index, document)}: {problem}" for problem in problems_of(document)]
    return problems


def check(root: Path) -> list[str]:
    pyrra_files = sorted((root / slo_specs.PYRRA_DIR).glob("*.yaml"))
    problems = [
        *_check_file(root, slo_specs.OPENSLO_PATH, _openslo_problems),
        *_check_file(root, slo_specs.SLOTH_PATH, _sloth_problems),
    ]
    if not pyrra_files:
        problems.append(
            f"{slo_specs.PYRRA_DIR}: no ServiceLevelObjective files; run `.venv/bin/airscope gen`"
        )
    for path in pyrra_files:
        problems += _check_file(root, str(path.relative_to(root)), _pyrra_problems)
    return problems
