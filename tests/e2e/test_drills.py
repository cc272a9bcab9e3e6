"""The quick drills against the whole local platform: each fault's alert reaches the local receiver
within its bound, resolves within a minute of healing, and nothing else fires; a drill of chats
gets every chat answered 200."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local.drills.faults import CHAT_TOOL_FAILED, CHATS
from airscope.local.drills.run import QUIET_WAIT
from airscope.local.drills.scenarios import QUICK, RESOLVE_WITHIN, scenarios
from tests.e2e.conftest import RunningPlatform

# A drill waits for its alert from before to resolve, then twice each bound at most.
LONGEST = max(2 * (scenarios()[name].notify_within + RESOLVE_WITHIN) for name in QUICK) + QUIET_WAIT


@pytest.mark.timeout(LONGEST + 30)
@pytest.mark.parametrize("scenario", QUICK)
def test_the_quick_drill_is_notified_in_time_resolves_and_raises_nothing_else(
    platform: RunningPlatform, scenario
):
    result = CliRunner().invoke(main, ["drill", scenario, "--json"])
    (report,) = json.loads(result.stdout)
    assert report["error"] is None, report
    assert report["unexpected"] == [], report
    assert report["notified_after_seconds"] is not None, report
    assert report["notified_after_seconds"] <= report["notify_bound_seconds"], report
    assert report["resolved_after_seconds"] is not None, report
    assert report["resolved_after_seconds"] <= RESOLVE_WITHIN, report
    assert report["passed"] and result.exit_code == 0, report
    if scenarios()[scenario].traffic_kind == CHATS:
        # Every chat is answered: 200, its answer reporting the failed tool while the fault lasts.
        assert set(report["traffic"]) <= {"200", CHAT_TOOL_FAILED}, report["traffic"]
        assert report["traffic"].get(CHAT_TOOL_FAILED, 0) > 0, report["traffic"]
