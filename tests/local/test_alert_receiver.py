"""The local alert receiver: notifications kept for `airscope alerts` and the drills, the Watchdog's
heartbeats kept apart, and whether the alerting pipeline is alive by them (the clock is injected:
no test waits)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from airscope.local import alert_receiver
from airscope.local.alert_receiver import FIRST_BEAT_WITHIN, OVERDUE_AFTER, Heartbeat, pipeline
from airscope.local.drills.watch import Notifications
from airscope.stack import settings

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def watchdog_payload() -> dict:
    """Alertmanager's webhook payload (version 4) for the Watchdog, as it posts it."""
    labels = {"alertname": "Watchdog", "severity": "warning"}
    return {
        "version": "4",
        "status": "firing",
        "receiver": "deadmansswitch",
        "groupLabels": {"alertname": "Watchdog"},
        "alerts": [{"status": "firing", "labels": labels, "annotations": {}}],
    }


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "alerts" / "notifications.jsonl", tmp_path / "alerts" / "heartbeat.json"


def test_the_timings_follow_the_local_watchdog_route():
    # Three local heartbeats (10 s apart) missed in a row, and twice that for the first one.
    assert settings.WATCHDOG_INTERVAL["local"] == "10s"
    assert OVERDUE_AFTER == settings.WATCHDOG_MISSED_BEATS * 10
    assert FIRST_BEAT_WITHIN == 2 * OVERDUE_AFTER


def test_a_heartbeat_is_recorded_apart_and_never_kept_as_a_notification(files):
    notifications, heartbeat = files
    clock = Clock()
    app = alert_receiver.create_app(notifications, heartbeat, clock)
    watch = Notifications(notifications)  # what a drill reads
    assert alert_receiver.read_heartbeat(heartbeat) == Heartbeat(T0)

    with TestClient(app) as client:
        clock.now = T0 + timedelta(seconds=12)
        assert client.post("/alerts/deadmansswitch", json=watchdog_payload()).json() == {"status": "heard"}
        clock.now = T0 + timedelta(seconds=22)
        assert client.post("/alerts/deadmansswitch", json=watchdog_payload()).status_code == 200

    assert alert_receiver.read_heartbeat(heartbeat) == Heartbeat(T0, T0 + timedelta(seconds=22), 2)
    assert alert_receiver.read(notifications) == []
    assert list(watch.new()) == []


def test_a_notification_is_kept_and_is_no_heartbeat(files):
    notifications, heartbeat = files
    clock = Clock()
    with TestClient(alert_receiver.create_app(notifications, heartbeat, clock)) as client:
        payload = {
            "status": "firing",
            "alerts": [{"status": "firing", "labels": {"alertname": "ServiceDown"}}],
        }
        assert client.post("/alerts/platform-team-pager", json=payload).json() == {"status": "kept"}
    (kept,) = alert_receiver.read(notifications)
    assert kept["receiver"] == "platform-team-pager" and kept["notification"] == payload
    assert kept["received_at"] == T0.isoformat(timespec="milliseconds")
    assert alert_receiver.read_heartbeat(heartbeat) == Heartbeat(T0)


def test_a_heartbeat_that_is_not_json_is_refused_and_not_counted(files):
    notifications, heartbeat = files
    with TestClient(alert_receiver.create_app(notifications, heartbeat, Clock())) as client:
        answer = client.post("/alerts/deadmansswitch", content=b"not json")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_json"
    assert alert_receiver.read_heartbeat(heartbeat) == Heartbeat(T0)


def test_a_restarted_receiver_forgets_what_an_earlier_one_heard(files):
    notifications, heartbeat = files
    heartbeat.parent.mkdir(parents=True)
    heartbeat.write_text(json.dumps(Heartbeat(T0, T0, 5).as_json()))
    clock = Clock()
    clock.now = T0 + timedelta(hours=1)
    alert_receiver.create_app(notifications, heartbeat, clock)
    assert alert_receiver.read_heartbeat(heartbeat) == Heartbeat(clock.now)


def test_no_heartbeat_file_means_no_receiver_ran(tmp_path: Path):
    assert alert_receiver.read_heartbeat(tmp_path / "missing.json") is None
    found = pipeline(None, T0)
    assert found.state == "no-receiver" and found.broken


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("last_heard", "now", "state"),
    [
        (0, 4, "ok"),
        (0, OVERDUE_AFTER, "ok"),  # three heartbeats missed, at the limit: still alive
        (0, OVERDUE_AFTER + 1, "overdue"),
        (100, 100 + OVERDUE_AFTER + 60, "overdue"),
    ],
)
def test_the_pipeline_is_overdue_once_heartbeats_stop_for_longer_than_the_limit(last_heard, now, state):
    found = pipeline(Heartbeat(T0, at(last_heard), 1), at(now))
    assert found.state == state
    assert found.broken is (state == "overdue")
    assert found.seconds == now - last_heard
    assert found.heard


def test_a_receiver_that_just_started_waits_for_its_first_heartbeat_then_calls_it_overdue():
    started = Heartbeat(T0)
    waiting = pipeline(started, at(FIRST_BEAT_WITHIN))
    assert waiting.state == "waiting" and not waiting.broken
    late = pipeline(started, at(FIRST_BEAT_WITHIN + 1))
    assert late.state == "overdue" and late.broken and not late.heard


def test_the_pipeline_describes_itself():
    assert pipeline(Heartbeat(T0, at(0), 1), at(4)).describe() == "Watchdog heard 4s ago"
    assert pipeline(Heartbeat(T0, at(0), 1), at(95)).describe() == "no Watchdog for 1m35s"
    assert pipeline(Heartbeat(T0), at(12)).describe() == "waiting for the first Watchdog (receiver up 12s)"
    assert pipeline(Heartbeat(T0), at(200)).describe() == "no Watchdog since the receiver began, 3m20s ago"
