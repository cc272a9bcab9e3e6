"""Every alert is proven by promtool: its tests beside the rules (tests/stack/rules/<AlertName>.test.yml)
fire with the right labels and annotations, stay quiet below the threshold and before `for`.

They test the checked-in compose rules (deploy/prometheus/rules), the ones that page humans in
production; tests/gen proves those current. The local profile's alerts are the same but for their
waits, checked here too.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import rules, rules_meta, settings

ROOT = Path(__file__).resolve().parents[2]
RULE_TESTS = Path(__file__).parent / "rules"
# The labels that tell one rule of an alert from another of the same name (TargetDown: one per job).
VARIANT_LABELS = ("severity", "source", "scope", "window", "job")

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not on PATH (make bootstrap installs it)"
)


@functools.cache
def generated() -> dict[str, str]:
    return stack.generate()


def groups(path: str) -> list[dict]:
    return yaml.safe_load(generated()[path])["groups"]


def alert_rules(path: str) -> list[dict]:
    return [rule for group in groups(path) for rule in group["rules"]]


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS.glob("*.test.yml"))


# The burn-rate tests evaluate 12 simulated hours: half a minute each here, evaluated every minute.
PROMTOOL_TIMEOUT = 300  # the wait for one file's result, once its test runs
# A run started at collection may have crawled at the lowest priority behind a busy machine for most
# of the session; the test's own wait (PROMTOOL_TIMEOUT) bounds a run that hangs.
PROMTOOL_BACKGROUND_TIMEOUT = 3600
# Rule tests that evaluate less often than compose Prometheus: their 12 simulated hours every 15 s
# took 100 s each, and every minute (a divisor of each of their windows and `for`s) proves the same.
COARSER_EVALUATION = {"ErrorBudgetBurn": "1m", "LatencyBudgetBurn": "1m"}


def promtool_test(path: Path) -> subprocess.CompletedProcess:
    # From the file's directory: its rule_files are relative to it.
    # niced: the runs start at collection (conftest.py) and share the cores with the tests before them.
    return subprocess.run(
        ["nice", "-n", "19", "promtool", "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_BACKGROUND_TIMEOUT,
    )


@functools.cache
def promtool_runs() -> dict[Path, Future]:
    """Every rule test file's promtool run, started together: promtool evaluates a file on one core,
    and the two burn-rate files (12 simulated hours, half a minute each) would otherwise run
    one after the other and after everything else. Largest first, so those two start at once."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="promtool")
    files = sorted(rule_test_files(), key=lambda path: path.stat().st_size, reverse=True)
    return {path: pool.submit(promtool_test, path) for path in files}


def variant(labels: dict, of: dict | None = None) -> tuple:
    """The variant labels of ``labels``; with ``of``, only those a rule's labels (``of``) set: an
    alert's own `job` label (from its series) tells no rule apart unless the rule sets it."""
    names = [name for name in VARIANT_LABELS if name in (labels if of is None else of)]
    return tuple((name, labels.get(name)) for name in names)


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)([smhd])", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a duration this test reads: {duration}"
    return sum(int(n) * units[u] for n, u in parts)


@needs_promtool
@pytest.mark.timeout(PROMTOOL_TIMEOUT + 10)
@pytest.mark.parametrize("path", rule_test_files(), ids=lambda p: p.name.split(".")[0])
def test_promtool_passes_the_rule_tests(path: Path):
    result = promtool_runs()[path].result(timeout=PROMTOOL_TIMEOUT)
    assert result.returncode == 0, f"promtool test rules {path.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda p: p.name.split(".")[0])
def test_each_rule_test_evaluates_the_compose_rules_as_compose_prometheus_does(path: Path):
    test = yaml.safe_load(path.read_text())
    assert [(path.parent / f).resolve() for f in test["rule_files"]] == [
        ROOT / rules.RECORDING_PATH,
        ROOT / rules.ALERTS_PATH,
    ]
    name = path.name.removesuffix(".test.yml")
    interval = COARSER_EVALUATION.get(name, settings.COMPOSE.evaluation_interval)
    assert test["evaluation_interval"] == interval
    for rule in alert_rules(rules.ALERTS_PATH):
        if rule["alert"] == name:
            assert seconds(rule["for"]) % seconds(interval) == 0, f"{name}: `for` {rule['for']}"
    # Every recording group before the alerts, so that each `for` is timed from the evaluation
    # the condition first holds at, the same in every run. Alert groups read no alert group: their
    # order among themselves does not matter, and a test may name only the ones it needs.
    recording = [g["name"] for g in groups(rules.RECORDING_PATH)]
    order = test["group_eval_order"]
    assert order[: len(recording)] == recording
    assert set(order[len(recording) :]) <= {g["name"] for g in groups(rules.ALERTS_PATH)}


def test_every_alert_has_a_rule_test_that_fires_each_of_its_rules_and_stays_quiet():
    alerts = alert_rules(rules.ALERTS_PATH)
    assert {p.name.removesuffix(".test.yml") for p in rule_test_files()} == {a["alert"] for a in alerts}
    for rule in alerts:
        name = rule["alert"]
        path = RULE_TESTS / f"{name}.test.yml"
        cases = [
            case
            for test in yaml.safe_load(path.read_text())["tests"]
            for case in test["alert_rule_test"]
            if case["alertname"] == name
        ]
        fired = [alert["exp_labels"] for case in cases for alert in case.get("exp_alerts") or []]
        assert any(variant(labels, rule["labels"]) == variant(rule["labels"]) for labels in fired), (
            f"{path.name} never expects {name} {rule['labels']} to fire"
        )
        if name == rules_meta.WATCHDOG:
            continue  # always firing: there is no quiet case to prove
        assert any(not case.get("exp_alerts") for case in cases), (
            f"{path.name} has no case where {name} is quiet"
        )


def test_local_alerts_are_the_compose_ones_but_for_their_waits_and_never_wait_longer():
    """Local mode's drills prove the compose alerts: only `for`, keep_firing_for and the short window
    of HighErrorRate and HighLatency (settings.Profile.short_window) may differ, and the text that
    quotes them."""
    compose, local = alert_rules(rules.ALERTS_PATH), alert_rules(rules.LOCAL_ALERTS_PATH)
    # But for what local mode does not run: no Mimir to remote-write to, no containers for cAdvisor,
    # none of the compose-only backends to scrape.
    local_jobs = set(rules_meta.target_jobs(catalog.load(), settings.LOCAL))
    compose = [
        r
        for r in compose
        if r["alert"] not in rules_meta.COMPOSE_ONLY
        and (r["alert"] != "TargetDown" or r["labels"]["job"] in local_jobs)
    ]
    assert [r["alert"] for r in local] == [r["alert"] for r in compose]
    short, local_short = settings.COMPOSE.short_window, settings.LOCAL.short_window
    for prod, loc in zip(compose, local, strict=True):
        what = f"{prod['alert']} {prod['labels']}"
        assert seconds(loc["for"]) <= seconds(prod["for"]), what
        expected = copy.deepcopy(prod)
        expected["for"] = loc["for"]
        if "keep_firing_for" in prod:
            assert seconds(loc.get("keep_firing_for", "0s")) <= seconds(prod["keep_firing_for"]), what
            expected["keep_firing_for"] = loc.get("keep_firing_for")
        expected["expr"] = prod["expr"].replace(f"[{short}]", f"[{local_short}]")
        expected["annotations"]["description"] = (
            prod["annotations"]["description"]
            .replace(f"for {prod['for']}.", f"for {loc['for']}.")
            .replace(f"the last {short},", f"the last {local_short},")
        )
        assert loc == expected, what


@needs_promtool
def test_a_wrong_expectation_fails(tmp_path: Path):
    # The same layout as the checkout, so the file's relative rule_files resolve.
    shutil.copytree(ROOT / "deploy/prometheus/rules", tmp_path / "deploy/prometheus/rules")
    original = RULE_TESTS / "ServiceDown.test.yml"
    copied = tmp_path / original.relative_to(ROOT)
    copied.parent.mkdir(parents=True)
    shutil.copy(original, copied)
    assert promtool_test(copied).returncode == 0, "the untouched copy must pass, or nothing below is proven"

    text = copied.read_text()
    wrong = text.replace("{severity: critical, service: frontend,", "{severity: warning, service: frontend,")
    assert wrong != text
    copied.write_text(wrong)
    result = promtool_test(copied)
    assert result.returncode != 0
    assert 'service="frontend", severity="warning"' in result.stdout + result.stderr


@pytest.mark.parametrize("profile", settings.PROFILES, ids=lambda p: p.name)
def test_every_alert_carries_an_owner_and_a_tier(profile: settings.Profile):
    loaded = catalog.load()
    join = f"* on (service) group_left (owner, tier)\n{settings.CATALOG_INFO}"
    for group in rules.alerts(loaded, profile)["groups"]:
        for rule in group["rules"]:
            labels = rule["labels"]
            if "owner" in labels:
                # Not about a service: the infra team's, at its tier.
                assert (labels["owner"], labels["tier"]) == (catalog.INFRA_TEAM, settings.INFRA_TIER), rule
                assert "service" not in labels
            else:
                assert rule["expr"].endswith(join), rule["alert"]
    info = [
        r
        for g in rules.recording(loaded)["groups"]
        for r in g["rules"]
        if r["record"] == settings.CATALOG_INFO
    ]
    assert {r["labels"]["service"]: (r["labels"]["owner"], r["labels"]["tier"]) for r in info} == {
        s.name: (s.owner, str(s.tier)) for s in loaded.services.values()
    }
