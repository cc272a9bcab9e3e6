"""Each route proven on the whole local platform: a test notification for every receiver of every
team, all at once (each tells its own notifications apart by its `test_id` label), and each arrives
at the local receiver on exactly the receivers the routing tree names for it (R, and for a page the
team's chat too) and on no other; one of them through `airscope alerts test --receiver R` itself,
whose resolution follows; amtool's routing test against the running Alertmanager (the production
check docs/on-call.md gives) resolves as `airscope check` expects."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.cli import main
from airscope.local import alert_receiver, notify
from airscope.local.drills.watch import Notifications, Notified
from airscope.promapi import Alertmanager
from airscope.stack import alertmanager
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

RECEIVERS = alertmanager.receivers_of(catalog.load())
# The receiver proven through the command (the others through the library the command calls).
BY_COMMAND = "infra-chat"
TIMEOUT = 30.0


class Proven:
    """Every receiver's test notification, sent concurrently: the probes (their test_id labels), the
    command's output, and what the local receiver kept meanwhile."""

    def __init__(self, platform: RunningPlatform) -> None:
        self.seen = Notifications(alert_receiver.notifications_file())
        self.kept: list[Notified] = []
        self.probes: dict[str, notify.Probe] = {}
        cat = catalog.load()

        def by_library(receiver: str) -> notify.Probe:
            found = notify.probe(cat, receiver)
            with Alertmanager(platform["alertmanager"]) as client:
                return notify.wait_arrivals(client, found, alert_receiver.notifications_file(), TIMEOUT)

        # CliRunner swaps sys.stdout for the process: one command at a time, the library alongside.
        with ThreadPoolExecutor(max_workers=len(RECEIVERS)) as pool:
            futures = {r: pool.submit(by_library, r) for r in RECEIVERS if r != BY_COMMAND}
            self.command = CliRunner().invoke(main, ["alerts", "test", "--receiver", BY_COMMAND])
            self.probes = {r: f.result() for r, f in futures.items()}
        found = re.search(r"test_id=([0-9a-f]+)\)", self.command.output)
        self.test_ids = {r: p.labels["test_id"] for r, p in self.probes.items()}
        if found:
            self.test_ids[BY_COMMAND] = found.group(1)

    def notified(self) -> list[Notified]:
        self.kept.extend(self.seen.new())
        return self.kept

    def of(self, receiver: str, status: str) -> list[Notified]:
        test_id = self.test_ids.get(receiver)
        return [
            n
            for n in self.notified()
            if n.labels.get("alertname") == notify.ALERTNAME
            and n.status == status
            and test_id is not None
            and n.labels.get("test_id") == test_id
        ]


@pytest.fixture(scope="module")
def proven(platform: RunningPlatform) -> Proven:
    mp = pytest.MonkeyPatch()
    mp.delenv("AIRSCOPE_ALERTMANAGER_URL", raising=False)  # the platform's own Alertmanager
    try:
        return Proven(platform)
    finally:
        mp.undo()


@pytest.mark.parametrize("receiver", RECEIVERS)
def test_a_test_notification_reaches_exactly_its_routes_receivers(proven: Proven, receiver):
    team, _, kind = receiver.rpartition("-")
    expected = {receiver, f"{team}-chat"} if kind == "pager" else {receiver}
    if receiver == BY_COMMAND:
        done = proven.command
        assert done.exit_code == 0, done.output
        assert f"route proven: {receiver}" in done.output
        assert receiver in proven.test_ids, done.output
    else:
        found = proven.probes[receiver]
        assert found.proven, (found.arrived, found.expected)
        assert set(found.expected) == expected
    # What the receiver kept, read on its own: this test's alert, firing, on those receivers alone.
    firing = proven.of(receiver, "firing")
    assert {n.receiver for n in firing} == expected, firing
    assert {n.labels["owner"] for n in firing} == {team}
    assert {n.labels["severity"] for n in firing} == {"critical" if kind == "pager" else "warning"}


def test_the_resolved_test_notification_follows(proven: Proven):
    wait_until(
        lambda: proven.of(BY_COMMAND, "resolved"),
        60,
        interval=0.5,
        message=f"the test notification's resolution at {BY_COMMAND}",
    )


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
