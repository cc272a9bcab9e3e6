"""`airscope status` and `airscope alerts` on the alert pipeline: the Watchdog left out of the firing
alerts, the broken link named from the receiver back to Prometheus, each line under 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airscope.local import status
from airscope.local.alert_receiver import Heartbeat, pipeline
from airscope.local.status import PipelineFacts, PipelineReport, Status, diagnose, render_pipeline

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
WORKING = PipelineFacts(
    receiver_up=True,
    prometheus_error=None,
    watchdog_evaluated=True,
    alertmanager_error=None,
    watchdog_held=True,
)


def facts(**changed) -> PipelineFacts:
    return PipelineFacts(**{**WORKING.__dict__, **changed})


@pytest.mark.parametrize(
    ("broken", "cause", "fix"),
    [
        (
            facts(receiver_up=False, prometheus_error="refused", watchdog_evaluated=False),
            "the alert receiver is down",
            ".venv/bin/airscope start alert-receiver",
        ),
        (
            facts(kept_here=False),
            "the receiver that answers keeps no heartbeat here",
            "set AIRSCOPE_HOME to its platform's",
        ),
        (
            facts(prometheus_error="Prometheus: connection refused", watchdog_evaluated=False),
            "Prometheus is down",
            ".venv/bin/airscope start prometheus",
        ),
        (
            facts(watchdog_evaluated=False, watchdog_held=False),
            "Prometheus does not evaluate the rules",
            ".venv/bin/airscope logs -s prometheus --since 15m",
        ),
        (
            facts(alertmanager_error="Alertmanager: connection refused", watchdog_held=False),
            "Alertmanager is down",
            ".venv/bin/airscope start alertmanager",
        ),
        (
            facts(watchdog_held=False),
            "Prometheus does not reach Alertmanager",
            ".venv/bin/airscope logs -s prometheus --since 15m",
        ),
        (
            WORKING,
            "Alertmanager does not deliver to the receiver",
            ".venv/bin/airscope logs -s alertmanager --since 15m",
        ),
    ],
)
def test_the_first_broken_link_from_the_receiver_back_is_named_with_its_fix(broken, cause, fix):
    assert diagnose(broken) == (cause, fix)


def test_the_fixes_are_commands_the_cli_takes():
    from tests.stack.test_runbooks import parse_command

    for broken in (
        facts(receiver_up=False),
        facts(prometheus_error="x"),
        facts(watchdog_evaluated=False),
        facts(alertmanager_error="x"),
        WORKING,
    ):
        parse_command(diagnose(broken)[1])


def test_ok_is_one_line_and_broken_names_cause_and_fix_within_80_columns():
    ok = PipelineReport(pipeline(Heartbeat(T0, T0, 3), T0 + timedelta(seconds=4)))
    assert render_pipeline(ok.as_json()) == ["alert pipeline: OK (Watchdog heard 4s ago)"]

    waiting = PipelineReport(pipeline(Heartbeat(T0), T0 + timedelta(seconds=12)))
    assert render_pipeline(waiting.as_json()) == [
        "alert pipeline: waiting for the first Watchdog (receiver up 12s)"
    ]

    for broken in (
        facts(receiver_up=False),
        facts(watchdog_evaluated=False),
        facts(alertmanager_error="x", watchdog_held=False),
        WORKING,
    ):
        # The longest summaries: a receiver that never heard one, hours ago.
        late = pipeline(Heartbeat(T0), T0 + timedelta(hours=30))
        lines = render_pipeline(PipelineReport(late, *diagnose(broken)).as_json())
        assert lines[0] == "alert pipeline: BROKEN, no Watchdog since the receiver began, 1d6h ago"
        assert lines[1] == f"  cause: {diagnose(broken)[0]}"
        assert lines[2] == f"  fix:   {diagnose(broken)[1]}"
        assert all(len(line) <= 80 for line in lines), lines


def test_the_watchdog_is_left_out_of_the_firing_alerts():
    firing = [
        {"labels": {"alertname": "Watchdog", "severity": "warning"}},
        {"labels": {"alertname": "ServiceDown", "service": "mcp-server", "severity": "critical"}},
    ]
    rest, held = status.without_watchdog(firing)
    assert [a["labels"]["alertname"] for a in rest] == ["ServiceDown"] and held
    assert status.without_watchdog(rest) == (rest, False)


def test_a_broken_pipeline_makes_the_status_unhealthy_and_a_waiting_one_does_not():
    def with_pipeline(report):
        return Status(rows=[], prometheus=None, alertmanager=None, firing=[], pipeline=report)

    ok = PipelineReport(pipeline(Heartbeat(T0, T0, 1), T0 + timedelta(seconds=4)))
    waiting = PipelineReport(pipeline(Heartbeat(T0), T0 + timedelta(seconds=12)))
    broken = PipelineReport(pipeline(Heartbeat(T0, T0, 1), T0 + timedelta(minutes=5)), *diagnose(WORKING))
    assert with_pipeline(ok).healthy and with_pipeline(waiting).healthy
    assert not with_pipeline(broken).healthy
    shown = status.render(with_pipeline(broken))
    assert "alert pipeline: BROKEN, no Watchdog for 5m" in shown
    assert with_pipeline(broken).as_json()["alert_pipeline"]["cause"] == diagnose(WORKING)[0]
