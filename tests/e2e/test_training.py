"""A blind training round on the whole local platform, as a trainee runs it: `train start` injects a
fault without naming it and the page comes, a wrong answer gets a hint, the right one is confirmed,
`train end` heals, says what it was, and the platform is healthy again."""

from __future__ import annotations

import stat
import time

import httpx
from click.testing import CliRunner

from airscope.cli import main
from airscope.local import status
from airscope.local.drills.scenarios import scenarios
from airscope.local.drills.training import TRAFFIC_PROGRAM, Session
from airscope.local.drills.watch import active_alerts, matches
from airscope.local.supervisor import Supervisor
from tests.e2e.conftest import Platform

DOWN = {"alertname": "ServiceDown", "service": "mcp-server"}
# The session's traffic: list-records reads, which reach airtable-gateway through the api-gateway.
TRAFFIC = (
    'sum(http_server_request_duration_seconds_count{job="services", service="airtable-gateway", '
    'route="/bases/{base_id}/tables/{table}/records"})'
)


def _requests_seen(platform: Platform) -> float:
    answer = httpx.get(f"{platform['prometheus']}/api/v1/query", params={"query": TRAFFIC}, timeout=5)
    result = answer.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _paged(platform: Platform) -> bool:
    return any(matches(labels, DOWN) for labels in active_alerts(platform["alertmanager"]))


def _wait(condition, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return False


def _all_up() -> bool:
    rows = status.collect().rows
    return bool(rows) and all(row.health == "pass" and row.up == 1 for row in rows)


def test_a_blind_fault_is_paged_judged_healed_and_named(platform: Platform):
    runner = CliRunner()
    supervisor = Supervisor(platform.home)
    before = _requests_seen(platform)

    started = runner.invoke(
        main, ["train", "start", "service-down", "--service", "mcp-server", "--seed", "1"]
    )
    assert started.exit_code == 0, started.output
    assert "a fault is in; you have been paged" in started.output
    assert "mcp-server" not in started.output and "service-down" not in started.output
    assert stat.S_IMODE(Session.path().stat().st_mode) == 0o600
    assert supervisor.state(TRAFFIC_PROGRAM) in ("STARTING", "RUNNING")

    try:
        assert _wait(lambda: _paged(platform), 2 * scenarios()["service-down"].notify_within), (
            "ServiceDown{service=mcp-server} never became active"
        )
        assert _requests_seen(platform) > before, "the training traffic reached no gateway route"

        wrong = runner.invoke(main, ["train", "answer", "redis", "down"])
        assert wrong.exit_code == 1, wrong.output
        assert "wrong" in wrong.output and "Is everything up?" in wrong.output
        right = runner.invoke(main, ["train", "answer", "mcp-server", "down"])
        assert right.exit_code == 0, right.output
        assert right.output.startswith("right: mcp-server down")
    finally:
        ended = runner.invoke(main, ["train", "end"])
    assert ended.exit_code == 0, ended.output
    assert "mcp-server down" in ended.output and "found after" in ended.output
    assert "wrong answers: redis down" in ended.output

    assert not Session.path().exists()
    assert supervisor.state(TRAFFIC_PROGRAM) is None
    assert _wait(_all_up, 30), status.render(status.collect())
    assert _wait(lambda: not _paged(platform), 60), "ServiceDown{service=mcp-server} did not resolve"
