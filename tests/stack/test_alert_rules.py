"""Every alert is proven by promtool: its tests beside the rules (tests/stack/rules/<AlertName>.test.yml)
fire with the right labels and annotations, stay quiet below the threshold and before `for`.

They test the checked-in production rules (deploy/prometheus/rules); `make test` fails first when
those are stale. The local profile's alerts are the same but for `for`, checked here too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from airscope import stack
from airscope.stack import rules

RULE_TESTS = Path(__file__).parent / "rules"
# The labels that tell one rule of an alert from another of the same name.
VARIANT_LABELS = ("severity", "source", "scope", "window")

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is installed by make bootstrap"
)


def promtool_test(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["promtool", "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=120
    )


def alert_rules(path: str) -> list[dict]:
    return [rule for group in yaml.safe_load(stack.generate()[path])["groups"] for rule in group["rules"]]


def variant(labels: dict) -> tuple:
    return tuple((name, labels.get(name)) for name in VARIANT_LABELS if name in labels)


@needs_promtool
@pytest.mark.parametrize("path", sorted(RULE_TESTS.glob("*.test.yml")), ids=lambda p: p.name.split(".")[0])
def test_the_rule_tests_pass(path: Path):
    result = promtool_test(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_and_each_of_its_rules_is_tested_firing_and_quiet():
    for rule in alert_rules(rules.ALERTS_PATH):
        name = rule["alert"]
        path = RULE_TESTS / f"{name}.test.yml"
        assert path.exists(), f"{name} has no rule test: write {path.relative_to(Path.cwd())}"
        cases = [
            case
            for test in yaml.safe_load(path.read_text())["tests"]
            for case in test["alert_rule_test"]
            if case["alertname"] == name
        ]
        fired = {variant(alert["exp_labels"]) for case in cases for alert in case.get("exp_alerts") or []}
        assert variant(rule["labels"]) in fired, f"{path.name} never expects {name} {rule['labels']} to fire"
        assert any(not case.get("exp_alerts") for case in cases), (
            f"{path.name} has no case where {name} is quiet"
        )


def test_local_alerts_differ_from_production_only_in_for_and_never_wait_longer():
    def seconds(duration: str) -> int:
        units = {"s": 1, "m": 60, "h": 3600}
        return int(duration[:-1]) * units[duration[-1]]

    production, local = alert_rules(rules.ALERTS_PATH), alert_rules(rules.LOCAL_ALERTS_PATH)
    assert [r["alert"] for r in local] == [r["alert"] for r in production]
    for prod, loc in zip(production, local, strict=True):
        assert seconds(loc["for"]) <= seconds(prod["for"]), prod["alert"]
        assert (
            loc["labels"] == prod["labels"]
            and loc["annotations"]["summary"] == prod["annotations"]["summary"]
        )
        if prod["alert"] not in ("HighErrorRate", "HighLatency"):  # their short window is the profile's
            assert loc["expr"] == prod["expr"], prod["alert"]
        assert ("keep_firing_for" in loc) == ("keep_firing_for" in prod), prod["alert"]


@needs_promtool
def test_a_wrong_expectation_fails(tmp_path: Path):
    original = RULE_TESTS / "ServiceDown.test.yml"
    broken = tmp_path / "rules" / original.name
    broken.parent.mkdir()
    text = original.read_text().replace("../../../deploy", str(Path(__file__).parents[2] / "deploy"))
    wrong = text.replace("service: frontend}", "service: mcp-server-nope}", 1)
    assert wrong != text
    broken.write_text(wrong)
    assert promtool_test(broken).returncode != 0
