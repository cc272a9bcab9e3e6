"""The drills' bookkeeping without a platform: reading the receiver's file, sorting what was
notified into expected, tolerated, unexpected and already active, the verdict, and the docs table."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from airscope.local import alert_receiver
from airscope.local.drills import report, run
from airscope.local.drills.faults import CHAT_TOOL_FAILED, CHATS, Traffic, chat_status
from airscope.local.drills.run import Result, Watch, _shown
from airscope.local.drills.scenarios import RESOLVE_WITHIN, scenarios
from airscope.local.drills.watch import Notifications, describe, matches
from airscope.standins.airtable.seed import BASE_ID
from tests.support import wait_until


def notification(at: str, *alerts: tuple[str, dict]) -> str:
    payload = {"status": "firing", "alerts": [{"status": s, "labels": labels} for s, labels in alerts]}
    return json.dumps({"received_at": at, "receiver": "platform-team-pager", "notification": payload}) + "\n"


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


def test_a_drill_first_waits_out_the_alerts_that_would_mute_its_own(monkeypatch):
    """A critical ErrorBudgetBurn mutes HighErrorRate of its service in Alertmanager: error-burst
    waits for it to resolve, or its alert would notify no one and the drill time the inhibition."""
    scenario = scenarios()["error-burst"]
    burn = {
        "alertname": "ErrorBudgetBurn",
        "service": "airtable-gateway",
        "window": "1h",
        "severity": "critical",
    }
    elsewhere = {
        "alertname": "ErrorBudgetBurn",
        "service": "platform-services",
        "window": "1h",
        "severity": "critical",
    }
    # A slow burn's warning mutes nothing: the drill does not wait for it (it can last 30 minutes).
    slow = {
        "alertname": "ErrorBudgetBurn",
        "service": "airtable-gateway",
        "window": "1d",
        "severity": "warning",
    }
    answers = iter([[burn, elsewhere, slow], [burn, elsewhere, slow], [elsewhere, slow]])
    monkeypatch.setattr(run, "_before", lambda target: next(answers))
    monkeypatch.setattr(run.time, "sleep", lambda seconds: None)
    # another service's burn and the slow warning mute nothing here
    assert run._wait_quiet(None, scenario) == [elsewhere, slow]
    assert next(answers, None) is None
    # chat-failures' alert is muted by no budget alert: it starts at once.
    monkeypatch.setattr(run, "_before", lambda target: [burn])
    assert run._wait_quiet(None, scenarios()["chat-failures"]) == [burn]


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
    spent = {
        "api-gateway": {"availability": 0.38, "latency": 0.012},
        "airtable-gateway": {"availability": 2.5},
    }
    results = [
        Result("service-down", "", 'ServiceDown{service="mcp-server"}', 30, 22.8, 19.6, started="t"),
        Result("error-burst", "", "HighErrorRate{}", 90, 40.1, 30.2, started="t", budget_spent=spent),
        Result("disk", "", "DiskSpaceLow{}", 90, skipped="needs root"),
    ]
    report.write(results, doc)
    text = doc.read_text()
    assert "old table" not in text
    assert text.startswith("# Alerting\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert (
        '| `service-down` | `ServiceDown{service="mcp-server"}` | 22.8 s (30 s) | 19.6 s (60 s) | none | none '
        "| not measured |" in text
    )
    assert (
        "| none | none | airtable-gateway availability 250 %; api-gateway availability 38 %, latency 1.2 % |"
        in text
    )
    assert "skipped: needs root" in text


def test_chat_failures_fails_airtable_under_chats_and_tolerates_only_what_that_explains(receiver_file):
    scenario = scenarios()["chat-failures"]
    assert scenario.fault == scenarios()["error-burst"].fault  # the Airtable stand-in answers 500
    assert scenario.expect == {"alertname": "ChatAnswersFailing", "service": "llm-orchestrator"}
    assert scenario.traffic and scenario.traffic_kind == CHATS
    result = Result("chat-failures", "", "", scenario.notify_within)
    watch = Watch(scenario, [], result)
    expected = {**scenario.expect, "severity": "critical"}
    airtable = {"alertname": "HighErrorRate", "service": "airtable-gateway", "severity": "warning"}
    # The chats are answered 200: a 5xx at the gateway is not this fault's.
    gateway = {"alertname": "HighErrorRate", "service": "api-gateway", "severity": "warning"}
    with receiver_file.open("a") as file:
        file.write(notification("2026-11-28T10:00:40.000+00:00", ("firing", airtable), ("firing", gateway)))
        file.write(notification("2026-11-28T10:00:45.000+00:00", ("firing", expected)))
    watch.poll()
    assert watch.fired.second == 45
    assert result.also_fired == ['HighErrorRate{service="airtable-gateway"}']
    assert result.unexpected == ['HighErrorRate{service="api-gateway"}']


def answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_a_chat_answered_200_after_a_failed_tool_is_counted_apart():
    failed = [{"tool": "list_tables", "ok": True}, {"tool": "search_records", "ok": False}]
    assert chat_status(answer(200, {"answer": "The tool search_records failed", "tool_calls": failed})) == (
        CHAT_TOOL_FAILED
    )
    assert chat_status(answer(200, {"answer": "Found 0 records", "tool_calls": failed[:1]})) == 200
    assert chat_status(answer(200, {"answer": "Hello", "tool_calls": []})) == 200
    assert chat_status(answer(502, {"error": "llm_unavailable"})) == "502 llm_unavailable"
    assert chat_status(answer(504, {"detail": "?"})) == 504
    assert chat_status(httpx.Response(200, text="not json")) == 200


def test_chat_traffic_asks_a_new_search_each_time_through_the_gateway():
    asked: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/api/chat")
        assert request.headers["X-API-Key"] == "key"
        asked.append(json.loads(request.content)["message"])
        return answer(200, {"tool_calls": [{"tool": "search_records", "ok": len(asked) % 2 == 0}]})

    target = SimpleNamespace(url=lambda program: "http://gateway.test", plat=SimpleNamespace(api_key="key"))
    traffic = Traffic(target, rps=40, max_in_flight=1, kind=CHATS)
    traffic._client = httpx.Client(
        base_url="http://gateway.test", headers=traffic.headers, transport=httpx.MockTransport(gateway)
    )
    with traffic:
        wait_until(lambda: len(asked) >= 4, timeout=10, message="four chats asked")
    assert len(set(asked)) == len(asked), "a repeated search could be answered from a cache"
    assert all(BASE_ID in message and message.startswith("Find customers named") for message in asked)
    assert traffic.statuses[200] and traffic.statuses[CHAT_TOOL_FAILED]
    with pytest.raises(ValueError, match="no drill traffic of kind"):
        Traffic(target, kind="floods")


def test_a_drills_report_names_the_alerts_active_before_it_but_not_the_always_firing_watchdog():
    active = [{"alertname": "Watchdog"}, {"alertname": "HighLatency", "service": "airtable-gateway"}]
    assert _shown(active) == ['HighLatency{service="airtable-gateway"}']
