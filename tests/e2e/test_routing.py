"""Each route proven on the whole local platform: `airscope alerts test --receiver R` for every
receiver of every team, and each test notification arrives at the local receiver on exactly the
receivers the routing tree names for it (R, and for a page the team's chat too) and on no other;
amtool's routing test against the running Alertmanager (the production check docs/on-call.md gives)
resolves as `airscope check` expects."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.cli import main
from airscope.local import alert_receiver, notify
from airscope.local.drills.watch import Notifications
from airscope.stack import alertmanager
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

RECEIVERS = alertmanager.receivers_of(catalog.load())


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_a_test_notification_reaches_exactly_its_routes_receivers(
    platform: RunningPlatform, receiver, monkeypatch
):
    monkeypatch.delenv("AIRSCOPE_ALERTMANAGER_URL", raising=False)  # the platform's own Alertmanager
    seen = Notifications(alert_receiver.notifications_file())
    done = CliRunner().invoke(main, ["alerts", "test", "--receiver", receiver])
    assert done.exit_code == 0, done.output
    assert f"route proven: {receiver}" in done.output
    team, _, kind = receiver.rpartition("-")
    expected = {receiver, f"{team}-chat"} if kind == "pager" else {receiver}
    # What the receiver kept, read on its own: this test's alert, firing, on those receivers alone.
    firing = [
        n
        for n in seen.new()
        if n.labels.get("alertname") == notify.ALERTNAME
        and n.status == "firing"
        and n.labels.get("owner") == team
    ]
    assert {n.receiver for n in firing} == expected, done.output
    assert {n.labels["severity"] for n in firing} == {"critical" if kind == "pager" else "warning"}


def test_the_resolved_test_notification_follows(platform: RunningPlatform, monkeypatch):
    monkeypatch.delenv("AIRSCOPE_ALERTMANAGER_URL", raising=False)
    seen = Notifications(alert_receiver.notifications_file())
    done = CliRunner().invoke(main, ["alerts", "test", "--receiver", "infra-chat"])
    assert done.exit_code == 0, done.output
    kept = []

    def resolved() -> bool:
        kept.extend(seen.new())
        return any(n.status == "resolved" and n.labels.get("alertname") == notify.ALERTNAME for n in kept)

    wait_until(resolved, 60, message="the test notification's resolution at infra-chat")


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not on PATH")
def test_amtool_routes_test_against_the_running_alertmanager(platform: RunningPlatform):
    for labels, expected in (
        (["owner=data-team", "severity=critical"], "data-team-pager,data-team-chat"),
        (["owner=web-team", "severity=warning"], "web-team-chat"),
        (["owner=nobody", "severity=critical"], "infra-chat"),
    ):
        done = subprocess.run(
            ["amtool", "config", "routes", "test", f"--alertmanager.url={platform['alertmanager']}", *labels],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected
