"""Silences and maintenance windows proven on the whole local platform.

The service-down drill's alert (ServiceDown for mcp-server, with the labels its rule gives it and a
label of its own telling this drill's alert apart from any other), posted to Alertmanager's API as
Prometheus posts a firing alert (as `airscope alerts test` does), so that it takes the same routes,
silences and maintenance windows as the real one without waiting for a stopped service to be noticed,
under
- a silence made with `airscope silence add`: the alert fires in Alertmanager, suppressed by that
  silence, and nothing is notified; `airscope silence expire` and the same firing alert notifies
  its owner's receivers;
- a maintenance window over the current time for the service's owning team, rendered into the
  platform's Alertmanager config by the same generator (`alertmanager.render(..., maintenance=)`)
  and reloaded: the alert fires and nothing is notified; the platform's own config back, and the
  same firing alert notifies. The original config is restored and reloaded whatever happens.
Each alert is resolved afterwards; its own label keeps Alertmanager's log of what it notified from
taking a later ServiceDown for one already told.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from airscope import catalog, units
from airscope.catalog import MaintenanceWindow
from airscope.cli import main
from airscope.local import alert_receiver
from airscope.local.drills.scenarios import scenarios
from airscope.local.drills.watch import Notifications, Notified, matches
from airscope.promapi import Alert, Alertmanager
from airscope.stack import alertmanager as alertmanager_config
from airscope.stack import settings
from airscope.stack.settings import LOCAL
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

DRILL = scenarios()["service-down"]
EXPECT = DRILL.expect  # {"alertname": "ServiceDown", "service": "mcp-server"}
# Long enough for Alertmanager to have notified, had nothing muted it: the group's first flush
# (group_wait after the alert arrives, or group_interval for a group already there) plus a margin.
MUTED_FOR = units.parse_duration(LOCAL.group_wait) + units.parse_duration(LOCAL.group_interval) + 2
# Once unmuted, the next flush notifies: one group_interval (or group_wait of a group made anew by a
# reload), plus a margin.
NOTIFIED_WITHIN = 2 * units.parse_duration(LOCAL.group_interval)
LONGEST = 2 * MUTED_FOR + 2 * NOTIFIED_WITHIN + 60


def owner() -> str:
    return catalog.load().services[EXPECT["service"]].owner


class Seen:
    """The notifications about one drill's alert since this was made."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self._new = Notifications(alert_receiver.notifications_file())
        self.kept: list[Notified] = []

    def about_the_drill(self) -> list[Notified]:
        self.kept += [n for n in self._new.new() if matches(n.labels, self.labels)]
        return self.kept

    def firing(self) -> list[Notified]:
        return [n for n in self.about_the_drill() if n.status == "firing"]


def held(platform: RunningPlatform, labels: dict[str, str]) -> list[Alert]:
    """The drill's alert as Alertmanager holds it (silenced and inhibited too)."""
    with Alertmanager(platform["alertmanager"]) as client:
        return [a for a in client.alerts() if matches(a.labels, labels)]


@contextmanager
def service_down(platform: RunningPlatform) -> Iterator[Seen]:
    """The service-down drill's alert firing in Alertmanager as Prometheus would post it (the rule's
    labels, Prometheus' external labels, and a label of this drill's own); the notifications about it
    from just before it was posted. Resolved on the way out."""
    labels = {
        **EXPECT,
        "severity": "critical",
        "owner": owner(),
        "cluster": settings.CLUSTER,
        "environment": LOCAL.environment,
        "e2e_drill": uuid.uuid4().hex[:12],
    }
    starts_at = datetime.now(UTC)

    def alert(ends_at: datetime) -> dict:
        return {
            "labels": labels,
            "annotations": {"summary": f"{EXPECT['service']} is down (e2e drill)"},
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
        }

    with Alertmanager(platform["alertmanager"]) as client:
        seen = Seen(labels)
        client.post_alerts([alert(starts_at + timedelta(minutes=15))])
        try:
            yield seen
        finally:
            client.post_alerts([alert(max(datetime.now(UTC), starts_at + timedelta(milliseconds=1)))])


def silence(*args: str) -> str:
    result = CliRunner().invoke(main, ["silence", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def notifies_the_owner(seen: Seen) -> None:
    """The drill's alert is notified, firing, to its owning team's receivers."""
    firing = wait_until(seen.firing, NOTIFIED_WITHIN, interval=0.5, message=f"{EXPECT} notified once unmuted")
    team = owner()
    assert {n.receiver for n in firing} <= {f"{team}-pager", f"{team}-chat"}, firing


@pytest.mark.timeout(LONGEST)
def test_a_drill_under_a_silence_notifies_nothing_until_the_silence_is_expired(platform: RunningPlatform):
    matchers = [f"{name}={value}" for name, value in EXPECT.items()]
    silence_id = silence("add", *matchers, "--duration", "15m", "--comment", "e2e: the silence drill").strip()
    try:
        assert silence_id in silence("list")
        with service_down(platform) as seen:

            def suppressed() -> list[Alert]:
                found = held(platform, seen.labels)
                assert found and {(a.state, a.silenced_by) for a in found} == {("suppressed", (silence_id,))}
                return found

            wait_until(suppressed, 10, interval=0.2, message=f"{EXPECT} fires, silenced")
            time.sleep(MUTED_FOR)
            suppressed()  # still firing, still silenced
            assert seen.about_the_drill() == []

            assert silence("expire", silence_id) == f"expired {silence_id}\n"
            assert silence_id not in silence("list")
            notifies_the_owner(seen)
    finally:
        with Alertmanager(platform["alertmanager"]) as client:
            if any(s.id == silence_id and s.state == "active" for s in client.silences()):
                client.expire_silence(silence_id)


def windows_over_now(team: str, now: datetime) -> dict[str, MaintenanceWindow]:
    """Maintenance for ``team`` from a few minutes ago to a quarter of an hour from now (UTC), split in
    two at midnight as the catalog's windows must be."""
    start = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    end = (now + timedelta(minutes=15)).replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    spans = [(max(start, midnight), min(end, midnight + timedelta(days=1)))]
    if end > midnight + timedelta(days=1):
        spans.append((midnight + timedelta(days=1), end))
    windows = {}
    for index, (begins, ends) in enumerate(spans):
        until = "24:00" if ends.date() > begins.date() else f"{ends:%H:%M}"
        name = f"e2e-now-{index}"
        windows[name] = MaintenanceWindow(
            name=name,
            teams=[team],
            weekdays=[f"{begins:%A}".lower()],
            times=f"{begins:%H:%M}-{until}",
            location="UTC",
            reason="the e2e proof that a window over now mutes the team",
        )
    return windows


def reload(platform: RunningPlatform) -> str:
    """Alertmanager reloads its config file; the config it now runs."""
    answer = httpx.post(f"{platform['alertmanager']}/-/reload", timeout=10)
    assert answer.status_code == 200, answer.text
    return httpx.get(f"{platform['alertmanager']}/api/v2/status", timeout=10).json()["config"]["original"]


@pytest.mark.timeout(LONGEST)
def test_a_maintenance_window_over_now_mutes_the_owning_team(platform: RunningPlatform):
    cat = catalog.load()
    team = owner()
    config_file: Path = platform.home / "alertmanager" / "alertmanager.yml"
    original = config_file.read_text()
    receiver = f"{platform['alert-receiver']}/alerts"
    # The platform's own config is the generator's: the window is the only difference made here.
    assert alertmanager_config.render(cat, LOCAL, receiver) == original
    windows = windows_over_now(team, datetime.now(UTC))
    config_file.write_text(alertmanager_config.render(cat, LOCAL, receiver, maintenance=windows))
    try:
        running = reload(platform)
        assert all(name in running for name in windows), running
        with service_down(platform) as seen:

            def fires_unsilenced() -> list[Alert]:
                found = held(platform, seen.labels)
                assert found and all(a.silenced_by == () for a in found), found
                return found

            wait_until(fires_unsilenced, 10, interval=0.2, message=f"{EXPECT} fires")
            time.sleep(MUTED_FOR)
            fires_unsilenced()
            assert seen.about_the_drill() == []

            config_file.write_text(original)
            assert not any(name in reload(platform) for name in windows)
            notifies_the_owner(seen)
    finally:
        config_file.write_text(original)
        reload(platform)
