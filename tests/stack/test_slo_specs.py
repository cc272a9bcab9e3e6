"""deploy/slo/: every catalog SLO in OpenSLO, Sloth and Pyrra form, counting what our budget rules count,
and `airscope check` refusing a document its tool would refuse."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import promql_parser
import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import checks, rules, settings, slo_specs
from airscope.stack.checks import slo_specs as slo_specs_check

Selector = tuple[str, frozenset[tuple[str, str, str]]]


def _selectors(query: str) -> set[Selector]:
    """Each series selector of a query: its metric and its matchers, whatever their order."""
    found: set[Selector] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = frozenset((m.name, str(m.op), m.value) for m in node.matchers.matchers)
            found.add((node.name, matchers))

    promql_parser.walk(promql_parser.parse(query.replace(slo_specs.WINDOW, "5m")), visit)
    return found


def _for_service(selectors: set[Selector], service: str) -> set[Selector]:
    """A `sum by (service)` rule's selectors as they read for one service."""
    return {(name, matchers | {("service", "MatchOp.Equal", service)}) for name, matchers in selectors}


def _budget_steps(services: catalog.Catalog) -> list[dict]:
    """The SLO budget group's per-step counts of requests and of each SLI's bad requests."""
    (group,) = [g for g in rules.recording(services)["groups"] if g["name"] == settings.SLO_BUDGET_GROUP]
    steps = (settings.slo_step_requests(), *map(settings.slo_step_errors, settings.SLIS))
    return [rule for rule in group["rules"] if rule["record"] in steps]


def _budget_rules(services: catalog.Catalog) -> dict[tuple[str, str | None], set[Selector]]:
    """The selectors of the per-step counts, by (record, service label or None); without `up`,
    which the rules read only to tell a new series from one back after a gap."""
    return {
        (rule["record"], rule.get("labels", {}).get("service")): {
            selector for selector in _selectors(rule["expr"]) if selector[0] != "up"
        }
        for rule in _budget_steps(services)
    }


def _counted(services: catalog.Catalog, service: str) -> dict[str, set[Selector]]:
    """What our rules count for a service: all requests, the failed ones, and the latency rule's two."""
    budget = _budget_rules(services)
    (requests,) = _for_service(budget[(settings.slo_step_requests(), None)], service)
    availability = _for_service(budget[(settings.slo_step_errors("availability"), None)], service)
    (failed,) = [s for s in availability if any(m[0] == "status" for m in s[1])]
    latency = budget[(settings.slo_step_errors("latency"), service)]
    (fast,) = [s for s in latency if s[0].endswith("_bucket")]
    return {
        "requests": {requests},
        "failed": {failed},
        "availability errors": availability,
        "fast": {fast},
        "latency errors": latency,
    }


def _load_all(text: str) -> list[dict]:
    return list(yaml.safe_load_all(text))


@pytest.fixture
def files() -> dict[str, str]:
    return slo_specs.generate(catalog.load())


@pytest.fixture
def exported(tmp_path, files) -> Path:
    """A checkout-like directory holding the exports alone (the whole stack takes ten times longer)."""
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path


def _openslo_slos(files: dict[str, str]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _load_all(files[slo_specs.OPENSLO_PATH]) if d["kind"] == "SLO"}


def _sloth_slos(files: dict[str, str]) -> dict[tuple[str, str], dict]:
    return {
        (d["service"], slo["name"]): slo for d in _load_all(files[slo_specs.SLOTH_PATH]) for slo in d["slos"]
    }


def _pyrra_slos(files: dict[str, str]) -> dict[str, dict]:
    found = {}
    for path, text in files.items():
        if path.startswith(slo_specs.PYRRA_DIR + "/"):
            (document,) = _load_all(text)
            assert path == f"{slo_specs.PYRRA_DIR}/{document['metadata']['name']}.yaml"
            found[document["metadata"]["name"]] = document
    return found


def _catalog_slos(services: catalog.Catalog) -> list[tuple[catalog.Service, str]]:
    return [(service, sli) for service in services.services.values() for sli in settings.SLIS]


def test_every_catalog_slo_is_exported_with_its_objective_reason_and_period(files):
    services = catalog.load()
    expected = _catalog_slos(services)
    openslo, sloth, pyrra = _openslo_slos(files), _sloth_slos(files), _pyrra_slos(files)
    assert sorted(openslo) == sorted(pyrra) == sorted(f"{s.name}-{sli}" for s, sli in expected)
    assert sorted(sloth) == sorted((s.name, sli) for s, sli in expected)
    for service, sli in expected:
        objective, reason, name = service.slo.objective(sli), service.slo.reason(sli), f"{service.name}-{sli}"
        assert reason, f"the catalog gives no reason for {name}"

        spec = openslo[name]["spec"]
        assert (spec["service"], spec["description"]) == (service.name, reason)
        assert [o["target"] for o in spec["objectives"]] == [objective]
        assert spec["timeWindow"] == [{"duration": "30d", "isRolling": True}]
        assert spec["budgetingMethod"] == "Occurrences"

        slo = sloth[(service.name, sli)]
        assert slo["objective"] == pytest.approx(objective * 100, abs=1e-9)
        assert slo["description"] == reason

        spec = pyrra[name]["spec"]
        assert float(spec["target"]) == pytest.approx(objective * 100, abs=1e-9)
        assert (spec["window"], spec["description"]) == ("30d", reason)


def test_percentages_carry_no_float_noise():
    # 0.99999 * 100 is 99.99900000000001 in floating point; a tool would show that to its users.
    assert slo_specs.percent(0.99999) == 99.999
    assert slo_specs.percent(0.995) == 99.5


def test_a_new_catalog_service_gets_every_export(ninth_service):
    files = slo_specs.generate(catalog.load())
    assert f"{ninth_service}-latency" in _openslo_slos(files)
    assert (ninth_service, "availability") in _sloth_slos(files)
    assert _pyrra_slos(files)[f"{ninth_service}-availability"]["spec"]["target"] == "99.9"


@pytest.mark.parametrize("sli", settings.SLIS)
def test_the_queries_count_what_the_budget_rules_count(files, sli):
    services = catalog.load()
    openslo, sloth, pyrra = _openslo_slos(files), _sloth_slos(files), _pyrra_slos(files)
    for service in services.services.values():
        counted = _counted(services, service.name)
        name = f"{service.name}-{sli}"

        ratio = openslo[name]["spec"]["indicator"]["spec"]["ratioMetric"]
        assert _selectors(ratio["total"]["metricSource"]["spec"]["query"]) == counted["requests"]
        if sli == "availability":
            assert _selectors(ratio["bad"]["metricSource"]["spec"]["query"]) == counted["failed"]
        else:
            assert _selectors(ratio["good"]["metricSource"]["spec"]["query"]) == counted["fast"]

        events = sloth[(service.name, sli)]["sli"]["events"]
        assert _selectors(events["total_query"]) == counted["requests"]
        assert _selectors(events["error_query"]) == counted[f"{sli} errors"]

        indicator = pyrra[name]["spec"]["indicator"]
        if sli == "availability":
            assert _selectors(indicator["ratio"]["errors"]["metric"]) == counted["failed"]
            assert _selectors(indicator["ratio"]["total"]["metric"]) == counted["requests"]
        else:
            assert _selectors(indicator["latency"]["success"]["metric"]) == counted["fast"]
            assert _selectors(indicator["latency"]["total"]["metric"]) == counted["requests"]


def test_gen_writes_the_exports_and_check_runs_on_them():
    generated = stack.generate()
    assert {slo_specs.OPENSLO_PATH, slo_specs.SLOTH_PATH} <= set(generated)
    assert any(path.startswith(slo_specs.PYRRA_DIR + "/") for path in generated)
    assert "slo_specs" in dict(checks.CHECKS)


def test_the_check_passes_on_the_generated_files(exported):
    assert slo_specs_check.check(exported) == []


def _edit(root: Path, relative: str, change: Callable[[list[dict]], None]) -> None:
    path = root / relative
    documents = _load_all(path.read_text())
    change(documents)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def _first_slo(documents: list[dict]) -> dict:
    return next(d for d in documents if d.get("kind") == "SLO")


def _set(target: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value


OPENSLO, SLOTH, PYRRA = (
    slo_specs.OPENSLO_PATH,
    slo_specs.SLOTH_PATH,
    f"{slo_specs.PYRRA_DIR}/api-gateway-latency.yaml",
)
LATENCY_SUCCESS = "spec.indicator.latency.success.metric"
BROKEN = {
    # The classic slip: a percentage where OpenSLO wants a share.
    "openslo target in percent": (
        OPENSLO,
        lambda d: _set(_first_slo(d), "spec.objectives", [{"target": 99.5}]),
        "99.5 is greater than or equal to the maximum of 1 (at $.spec.objectives[0].target)",
    ),
    "openslo unknown budgeting method": (
        OPENSLO,
        lambda d: _set(_first_slo(d), "spec.budgetingMethod", "Requests"),
        "'Requests' is not one of ['Occurrences', 'Timeslices']",
    ),
    "openslo good and bad at once": (
        OPENSLO,
        lambda d: _set(
            _first_slo(d),
            "spec.indicator.spec.ratioMetric.good",
            _first_slo(d)["spec"]["indicator"]["spec"]["ratioMetric"]["total"],
        ),
        "(at $.spec.indicator.spec.ratioMetric)",
    ),
    "openslo query not promql": (
        OPENSLO,
        lambda d: _set(
            _first_slo(d), "spec.indicator.spec.ratioMetric.total.metricSource.spec.query", "sum(x"
        ),
        "ratioMetric.total query does not parse as PromQL",
    ),
    "sloth no alerting": (
        SLOTH,
        lambda d: _set(d[0]["slos"][0], "alerting", None),
        "'alerting' is a required property (at $.slos[0])",
    ),
    "sloth misspelt key": (
        SLOTH,
        lambda d: _set(d[0]["slos"][0]["alerting"], "ticket_alerts", {"disable": True}),
        "unknown key $.slos[0].alerting.ticket_alerts: Sloth ignores it",
    ),
    "sloth query without its window": (
        SLOTH,
        lambda d: _set(d[0]["slos"][0], "sli.events.total_query", "sum(rate(x[5m]))"),
        "SLO availability: total_query lacks Sloth's window template {{.window}}",
    ),
    "sloth objective as a share": (
        SLOTH,
        lambda d: _set(d[0]["slos"][0], "objective", 199.5),
        "objective 199.5 is not a percentage in (0, 100]",
    ),
    "pyrra target with a percent sign": (
        PYRRA,
        lambda d: _set(d[0], "spec.target", "99%"),
        "target '99%' is not a percentage from 0 to 100",
    ),
    "pyrra window in words": (
        PYRRA,
        lambda d: _set(d[0], "spec.window", "30 days"),
        "window '30 days' is not a Prometheus duration",
    ),
    "pyrra latency without a bucket": (
        PYRRA,
        lambda d: _set(d[0], LATENCY_SUCCESS, d[0]["spec"]["indicator"]["latency"]["total"]["metric"]),
        "indicator.latency.success.metric has no `le` matcher with a number",
    ),
    "pyrra no total": (
        PYRRA,
        lambda d: _set(d[0], "spec.indicator.latency.total", None),
        "'total' is a required property (at $.spec.indicator.latency)",
    ),
    "pyrra misspelt key": (
        PYRRA,
        lambda d: _set(d[0], "spec.alertin", {"name": "x"}),
        "unknown key $.spec.alertin: Pyrra refuses the file",
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_document_fails_the_check_naming_file_and_cause(exported, case):
    relative, change, expected = BROKEN[case]
    _edit(exported, relative, change)
    problems = slo_specs_check.check(exported)
    assert len(problems) == 1, problems
    assert problems[0].startswith(relative) and expected in problems[0], problems[0]


def test_a_missing_export_fails_the_check(exported):
    (exported / slo_specs.SLOTH_PATH).unlink()
    assert slo_specs_check.check(exported) == [
        f"{slo_specs.SLOTH_PATH}: missing; run `.venv/bin/airscope gen`"
    ]


def _series(
    service: str, route: str, status: str, per_minute: int, fast_per_minute: int, le: str
) -> list[dict]:
    labels = f'job="services", service="{service}", instance="{service}:1", method="GET", route="{route}", status="{status}"'
    return [
        {"series": f"{rules.DURATION}_count{{{labels}}}", "values": f"0+{per_minute}x30"},
        {"series": f'{rules.DURATION}_bucket{{{labels}, le="{le}"}}', "values": f"0+{fast_per_minute}x30"},
    ]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not on PATH (make bootstrap installs it)"
)
def test_prometheus_computes_the_same_error_ratios_from_sloths_queries_as_from_our_rules(tmp_path, files):
    """Sloth's queries hold more than selectors (a difference of rates, a 0 for a service that never
    failed): promtool evaluates them beside our budget rules, over 1m, on the same synthetic series."""
    services = catalog.load()
    gateway, mcp = services.services["api-gateway"], services.services["mcp-server"]
    sloth = _sloth_slos(files)
    steps = _budget_steps(services)
    exported = [
        {
            "record": "export:sloth_errors:ratio",
            "expr": "({error_query})\n/\n({total_query})".format(
                **{
                    k: q.replace(slo_specs.WINDOW, settings.SLO_BUDGET_STEP)
                    for k, q in sloth[(s.name, sli)]["sli"]["events"].items()
                }
            ),
            "labels": {"service": s.name, "sli": sli},
        }
        for s in (gateway, mcp)
        for sli in settings.SLIS
    ]
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {"groups": [{"name": "budget", "rules": steps}, {"name": "export", "rules": exported}]}
        )
    )
    le = {s.name: repr(float(s.slo.latency_seconds)) for s in (gateway, mcp)}
    series = [
        # api-gateway: 100 requests a minute, 2 of them failed, 5 of them slow; its probes (fast and
        # plentiful) count for neither. mcp-server: 10 a minute, none failed (no 5xx series at all).
        *_series("api-gateway", "/api/chat", "200", 98, 93, le["api-gateway"]),
        *_series("api-gateway", "/api/chat", "500", 2, 2, le["api-gateway"]),
        *_series("api-gateway", "/health/live", "200", 300, 300, le["api-gateway"]),
        *_series("mcp-server", "/mcp", "200", 10, 10, le["mcp-server"]),
    ]
    ours = {
        sli: f"{settings.slo_step_errors(sli)} / on (service) {settings.slo_step_requests()}"
        for sli in settings.SLIS
    }
    same = [
        {
            "expr": f'abs(export:sloth_errors:ratio{{sli="{sli}"}} - on (service) ({ours[sli]})) < bool 1e-9',
            "eval_time": "10m",
            "exp_samples": [
                {"labels": f'{{service="{s}"}}', "value": 1} for s in ("api-gateway", "mcp-server")
            ],
        }
        for sli in settings.SLIS
    ]
    # Not 0 = 0 alone: api-gateway's ratios are its 2% and 5%.
    nonzero = {
        "expr": 'export:sloth_errors:ratio{service="api-gateway"} > bool 0.019',
        "eval_time": "10m",
        "exp_samples": [
            {"labels": f'{{service="api-gateway", sli="{sli}"}}', "value": 1} for sli in settings.SLIS
        ],
    }
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": settings.SLO_BUDGET_STEP,
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [*same, nonzero]}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
