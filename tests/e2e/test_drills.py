"""The quick drills against the whole local platform: each fault's alert reaches the local receiver
within its bound, resolves within a minute of healing, and nothing else fires."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local.drills.scenarios import QUICK, RESOLVE_WITHIN
from tests.e2e.conftest import Platform


@pytest.mark.parametrize("scenario", QUICK)
def test_the_quick_drill_is_notified_in_time_resolves_and_raises_nothing_else(platform: Platform, scenario):
    result = CliRunner().invoke(main, ["drill", scenario, "--json"])
    (report,) = json.loads(result.stdout)
    assert report["error"] is None, report
    assert report["unexpected"] == [], report
    assert report["notified_after_seconds"] is not None, report
    assert report["notified_after_seconds"] <= report["notify_bound_seconds"], report
    assert report["resolved_after_seconds"] is not None, report
    assert report["resolved_after_seconds"] <= RESOLVE_WITHIN, report
    assert report["passed"] and result.exit_code == 0, report
