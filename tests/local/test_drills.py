"""The drills' bookkeeping without a platform: reading the receiver's file, sorting what was
notified into expected, tolerated, unexpected and already active, the verdict, and the docs table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airscope.local import alert_receiver
from airscope.local.drills import report
from airscope.local.drills.run import Result, Watch
from airscope.local.drills.scenarios import RESOLVE_WITHIN, scenarios
from airscope.local.drills.watch import Notifications, describe, matches


def notification(at: str, *alerts: tuple[str, dict]) -> str:
    payload = {"status": "firing", "alerts": [{"status": s, "labels": labels} for s, labels in alerts]}
    return json.dumps({"received_at": at, "receiver": "pager", "notification": payload}) + "\n"


DOWN = {"alertname": "ServiceDown", "service": "mcp-server", "severity": "critical", "cluster": "airscope"}
OTHER = {"alertname": "HighLatency", "service": "frontend", "severity": "warning"}


def test_only_lines_written_after_the_start_are_read_and_a_partial_line_waits(tmp_path: Path):
    path = tmp_path / "notifications.jsonl"
    path.write_text(notification("2026-11-28T10:00:00.000+00:00", ("firing", OTHER)))
    seen = Notifications(path)
    assert list(seen.new()) == []

    line = notification("2026-11-28T10:00:05.000+00:00", ("firing", DOWN), ("resolved", OTHER))
    with path.open("a") as file:
        file.write(line[:20])
    assert list(seen.new()) == []
    with path.open("a") as file:
        file.write(line[20:])
    got = list(seen.new())
    assert [(n.status, n.labels["alertname"]) for n in got] == [
        ("firing", "ServiceDown"),
        ("resolved", "HighLatency"),
    ]
    assert got[0].at.second == 5


def test_describe_leaves_out_the_labels_every_alert_has():
    assert describe(DOWN) == 'ServiceDown{service="mcp-server"}'
    assert matches(DOWN, {"alertname": "ServiceDown", "service": "mcp-server"})
    assert not matches(DOWN, {"alertname": "ServiceDown", "service": "frontend"})


@pytest.fixture
def receiver_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "notifications.jsonl"
    path.touch()
    monkeypatch.setattr(alert_receiver, "notifications_file", lambda: path)
    return path


def test_the_watch_sorts_notifications_and_resolves_once_every_expected_alert_has(receiver_file):
    scenario = scenarios()["error-burst"]
    expected = {"alertname": "HighErrorRate", "service": "airtable-gateway", "instance": "a"}
    expected_2 = {**expected, "instance": "b"}
    tolerated = {"alertname": "HighErrorRate", "service": "api-gateway"}
    before = {"alertname": "LatencyBudgetBurn", "service": "frontend"}
    stray = {"alertname": "ServiceDown", "service": "frontend"}
    result = Result("error-burst", "", "", 90)
    watch = Watch(scenario, [before], result)
    with receiver_file.open("a") as file:
        file.write(
            notification("2026-11-28T10:00:40.000+00:00", ("firing", expected), ("firing", expected_2))
        )
        file.write(notification("2026-11-28T10:00:41.000+00:00", ("firing", tolerated), ("firing", before)))
        file.write(notification("2026-11-28T10:01:10.000+00:00", ("resolved", expected)))
    watch.poll()
    assert watch.fired.second == 40
    assert watch.resolved is None  # instance b still fires
    assert result.also_fired == ['HighErrorRate{service="api-gateway"}']
    assert result.unexpected == []

    with receiver_file.open("a") as file:
        file.write(notification("2026-11-28T10:01:12.000+00:00", ("resolved", expected_2), ("firing", stray)))
    watch.poll()
    assert watch.resolved.second == 12
    assert result.unexpected == ['ServiceDown{service="frontend"}']


def test_a_drill_passes_only_in_time_resolved_and_without_strays():
    good = Result("x", "", "", 30, notified_after_seconds=22.0, resolved_after_seconds=10.0)
    assert good.passed
    assert not Result("x", "", "", 30, notified_after_seconds=31.0, resolved_after_seconds=10.0).passed
    assert not Result("x", "", "", 30, notified_after_seconds=20.0, resolved_after_seconds=None).passed
    late_resolve = Result(
        "x", "", "", 30, notified_after_seconds=20.0, resolved_after_seconds=RESOLVE_WITHIN + 1
    )
    assert not late_resolve.passed
    assert not Result("x", "", "", 30, 20.0, 10.0, unexpected=["ServiceDown{}"]).passed
    assert not Result("x", "", "", 30, error="the platform is not running").passed
    assert Result("disk", "", "", 90, skipped="needs root").passed


def test_the_docs_table_replaces_only_what_is_between_its_markers(tmp_path):
    doc = tmp_path / "alerting.md"
    doc.write_text(f"# Alerting\n\nbefore\n\n{report.START}\nold table\n{report.END}\n\nafter\n")
    results = [
        Result("service-down", "", 'ServiceDown{service="mcp-server"}', 30, 22.8, 19.6),
        Result("disk", "", "DiskSpaceLow{}", 90, skipped="needs root"),
    ]
    report.write(results, doc)
    text = doc.read_text()
    assert "old table" not in text
    assert text.startswith("# Alerting\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert (
        '| `service-down` | `ServiceDown{service="mcp-server"}` | 22.8 s (30 s) | 19.6 s (60 s) | none | none |'
        in text
    )
    assert "skipped: needs root" in text
