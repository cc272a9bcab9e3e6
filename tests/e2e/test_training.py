"""A blind training round on the whole local platform, as a trainee runs it: `train start` injects a
fault without naming it and the page comes, a wrong answer gets a hint, the right one is confirmed,
`train end` heals, says what it was, and the platform is healthy again."""

from __future__ import annotations

import stat

from click.testing import CliRunner

from airscope.cli import main
from airscope.local import status
from airscope.local.drills.scenarios import scenarios
from airscope.local.drills.training import TRAFFIC_PROGRAM, Session
from airscope.local.drills.watch import active_alerts, matches
from airscope.local.supervisor import Supervisor
from airscope.promapi import Prometheus
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

DOWN = {"alertname": "ServiceDown", "service": "mcp-server"}
# The session's traffic: list-records reads, which reach airtable-gateway through the api-gateway.
TRAFFIC = (
    'sum(http_server_request_duration_seconds_count{job="services", service="airtable-gateway", '
    'route="/bases/{base_id}/tables/{table}/records"})'
)


def _requests_seen(platform: RunningPlatform) -> float:
    with Prometheus(platform["prometheus"]) as prometheus:
        return prometheus.value(TRAFFIC) or 0.0


def _paged(platform: RunningPlatform) -> bool:
    return any(matches(labels, DOWN) for labels in active_alerts(platform["alertmanager"]))


def _all_up() -> bool:
    report = status.collect()
    assert report.rows and all(row.health == "pass" and row.up == 1 for row in report.rows), status.render(
        report
    )
    return True


def test_a_blind_fault_is_paged_judged_healed_and_named(platform: RunningPlatform):
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
        wait_until(
            lambda: _paged(platform),
            timeout=2 * scenarios()["service-down"].notify_within,
            interval=1,
            message="ServiceDown{service=mcp-server} active",
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
    wait_until(_all_up, timeout=30, interval=1, message="every service up and healthy")
    wait_until(
        lambda: not _paged(platform),
        timeout=60,
        interval=1,
        message="ServiceDown{service=mcp-server} resolved",
    )
