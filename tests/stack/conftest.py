"""Helpers for the stack generators' tests: a catalog with a ninth service, and generated files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airscope import catalog, stack

PROMTOOL_TESTS = "tests/stack/test_alert_rules.py::test_promtool_passes_the_rule_tests"

NINTH = "billing-service"


def pytest_collection_finish(session: pytest.Session) -> None:
    """The promtool rule tests start when collection ends, in the background at the lowest priority
    (test_alert_rules.promtool_runs): about four minutes of CPU that otherwise ran while the session
    waited, now spent on what the end-to-end tests leave idle while they wait for alerts."""
    if session.config.option.collectonly:
        return
    if any(item.nodeid.startswith(PROMTOOL_TESTS) for item in session.items):
        from tests.stack.test_alert_rules import promtool_runs

        promtool_runs()


@pytest.fixture
def ninth_service(tmp_path, monkeypatch) -> str:
    """The project's catalog plus one more service, made current through AIRSCOPE_CATALOG."""
    data = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    data["services"][NINTH] = {
        "port": 7109,
        "module": "airscope.services.billing_service",
        "requires": ["postgres"],
        "slo": {"availability": 0.999, "latency_seconds": 0.25},
        "memory_limit": 300,
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(catalog.CATALOG_ENV, str(path))
    return NINTH


@pytest.fixture
def deployed(tmp_path) -> Path:
    """A checkout-like directory holding every generated stack file."""
    root = tmp_path / "checkout"
    for relative, content in stack.generate().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root
