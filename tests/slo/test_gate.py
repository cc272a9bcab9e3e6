"""The release gate: pass, pass with a warning, block, and cannot tell, each with its exit code and a
line that says why."""

from __future__ import annotations

import json

from airscope.slo.gate import gate
from tests.slo.samples import budget


def test_every_slo_above_half_its_budget_passes_naming_the_least():
    result = gate([budget(remaining=0.9), budget("mcp-server", "latency", remaining=0.62)])
    assert (result.verdict, result.passed, result.exit_code) == ("pass", True, 0)
    assert result.line == (
        "slo gate passed: every SLO has at least 25% of its budget left (least: mcp-server latency 62%)"
    )
    assert result.failing == () and result.warned == ()


def test_under_half_passes_with_the_slos_the_team_reviews():
    result = gate([budget(remaining=0.9), budget("mcp-server", "latency", remaining=0.3)])
    assert result.exit_code == 0
    assert result.line == (
        "slo gate passed: every SLO has at least 25% of its budget left; 1 SLO under 50% "
        "(mcp-server latency 30%): its team reviews what spent it"
    )
    assert [b.service for b in result.warned] == ["mcp-server"]


def test_under_the_minimum_blocks_worst_first():
    found = [
        budget(remaining=0.9),
        budget("mcp-server", "latency", remaining=0.2),
        budget("frontend", "availability", remaining=-0.5),
        budget("llm-orchestrator", "latency", remaining=0.249),
        budget("saga-orchestrator", "latency", remaining=0.1),
    ]
    result = gate(found)
    assert (result.verdict, result.passed, result.exit_code) == ("block", False, 1)
    assert [b.service for b in result.failing] == [
        "frontend",
        "saga-orchestrator",
        "mcp-server",
        "llm-orchestrator",
    ]
    assert result.line == (
        "slo gate blocked: 4 SLOs under 25% of budget left (frontend availability -50%, saga-orchestrator "
        "latency 10%, mcp-server latency 20%, ...); only fixes and reliability work go out until they are "
        "back (docs/slo.md#error-budget-policy)"
    )


def test_the_minimum_is_the_callers():
    found = [budget(remaining=0.3)]
    assert gate(found, 0.25).passed
    assert gate(found, 0.4).verdict == "block"
    # At a minimum of 0 only an overspent budget blocks; one exactly spent passes.
    assert gate([budget(remaining=0.0)], 0.0).passed
    assert gate([budget(remaining=-0.01)], 0.0).verdict == "block"


def test_slos_without_requests_do_not_block_but_without_any_it_cannot_tell():
    assert gate([budget(remaining=None), budget("mcp-server", remaining=0.8)]).passed
    result = gate([budget(remaining=None), budget("mcp-server", remaining=None)])
    assert (result.verdict, result.passed, result.exit_code) == ("unknown", False, 2)
    assert result.line == (
        "slo gate cannot tell: no SLO had requests in the last 30d; is this the Prometheus that records "
        "airscope's SLO rules?"
    )
    assert gate([]).exit_code == 2


def test_as_json_carries_the_verdict_and_the_slos_behind_it():
    result = json.loads(json.dumps(gate([budget(remaining=0.1)]).as_json()))
    assert (result["verdict"], result["passed"]) == ("block", False)
    assert [(b["service"], b["remaining"]) for b in result["failing"]] == [("api-gateway", 0.1)]
