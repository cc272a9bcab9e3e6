"""`airscope alerts test`: a test notification goes through a real Alertmanager (Debian's, configured
as local mode renders it) to the local receiver, on exactly the receivers its routes name; against
another Alertmanager it is posted to resolve itself, and the command says to check the channel."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from airscope import catalog, checkout
from airscope.cli import main
from airscope.cli.platform import alerts
from airscope.errors import AirscopeError
from airscope.local import alert_receiver, notify, status
from airscope.promapi import Alertmanager
from airscope.stack import alertmanager, settings
from tests.servers import AppServer
from tests.support import free_port, wait_until


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[tuple[Alertmanager, Path, int]]:
    """A local receiver under a home of its own and an Alertmanager with local mode's config sending to
    it: (the Alertmanager's client, the home, its port)."""
    if shutil.which("prometheus-alertmanager") is None:
        pytest.skip("Debian's prometheus-alertmanager is not installed")
    home = tmp_path_factory.mktemp("notify")
    receiver = AppServer(
        "airscope.local.alert_receiver",
        env={"AIRSCOPE_HOME": str(home)},
        log_dir=home,
        ready_path="/health/live",
    ).start()
    port = free_port()
    config = home / "alertmanager.yml"
    config.write_text(alertmanager.render(catalog.load(), settings.LOCAL, f"{receiver.url}/alerts"))
    with (home / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={config}",
                f"--storage.path={home / 'am'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = Alertmanager(f"http://127.0.0.1:{port}")
    try:
        wait_until(client.ready, 30, message="Alertmanager ready")
        yield client, home, port
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)
        receiver.stop()


def test_a_page_reaches_the_teams_pager_and_its_chat_and_no_one_else(platform):
    client, home, _ = platform
    probe = notify.probe(catalog.load(), "data-team-pager")
    assert (probe.labels["owner"], probe.labels["severity"]) == ("data-team", "critical")
    notify.wait_arrivals(client, probe, home / "alerts" / "notifications.jsonl", timeout=30)
    assert set(probe.arrived) == {"data-team-pager", "data-team-chat"}
    assert probe.proven
    # Resolved: Alertmanager holds it no longer as active.
    held = [a for a in client.alerts() if a.labels.get("test_id") == probe.labels["test_id"]]
    assert all(a.state != "active" for a in held)


def test_a_warning_reaches_the_teams_chat_alone(platform):
    client, home, _ = platform
    probe = notify.probe(catalog.load(), "web-team-chat")
    assert probe.labels["severity"] == "warning"
    notify.wait_arrivals(client, probe, home / "alerts" / "notifications.jsonl", timeout=30)
    assert list(probe.arrived) == ["web-team-chat"]


def test_an_unknown_receiver_is_refused_naming_the_known_ones():
    with pytest.raises(AirscopeError, match=r"no receiver 'pager' .*infra-chat"):
        notify.probe(catalog.load(), "pager")


def test_the_command_proves_a_route_locally(platform, monkeypatch):
    _, home, port = platform
    monkeypatch.setenv("AIRSCOPE_HOME", str(home))
    monkeypatch.setenv("AIRSCOPE_PORT_ALERTMANAGER", str(port))
    monkeypatch.delenv("AIRSCOPE_ALERTMANAGER_URL", raising=False)
    done = CliRunner().invoke(main, ["alerts", "test", "--receiver", "infra-chat"])
    assert done.exit_code == 0, done.output
    assert "reached infra-chat after" in done.output
    assert "route proven: infra-chat, no other receiver; resolved" in done.output
    assert alert_receiver.read(home / "alerts" / "notifications.jsonl")  # it was kept


def test_against_another_alertmanager_it_posts_and_says_to_check_the_channel(platform, monkeypatch):
    client, home, port = platform
    monkeypatch.setenv("AIRSCOPE_HOME", str(home))
    monkeypatch.setenv("AIRSCOPE_PORT_ALERTMANAGER", str(free_port()))  # the local one is elsewhere
    url = f"http://127.0.0.1:{port}"
    done = CliRunner().invoke(
        main, ["alerts", "test", "--receiver", "ai-team-pager", "--alertmanager-url", url]
    )
    assert done.exit_code == 0, done.output
    assert f"to {url}: the routes send it to ai-team-pager, ai-team-chat. Check the channel" in done.output
    (held,) = [
        a
        for a in client.alerts()
        if a.labels.get("alertname") == notify.ALERTNAME
        and a.labels.get("owner") == "ai-team"
        and a.state == "active"
    ]
    assert held.labels["severity"] == "critical"


def test_each_alert_line_says_service_severity_owner_and_since_when():
    now = datetime(2026, 5, 3, 10, 5, 0, tzinfo=UTC)
    labels = {
        "alertname": "ServiceDown",
        "service": "api-gateway",
        "severity": "critical",
        "owner": "platform-team",
    }
    alert = {
        "labels": labels,
        "annotations": {"summary": "api-gateway is down"},
        "startsAt": "2026-05-03T10:02:00.123456789Z",
    }
    assert status.firing_line(alert, now) == (
        "FIRING ServiceDown service=api-gateway severity=critical owner=platform-team\n"
        "  since 10:02:00Z (3m ago): api-gateway is down"
    )
    kept = {
        "received_at": "2026-05-03T10:02:02.500+00:00",
        "receiver": "platform-team-pager",
        "notification": {
            "alerts": [
                {**alert, "status": "firing"},
                {"labels": {"alertname": "Other"}, "status": "resolved"},
            ]
        },
    }
    first, labelled, second, other = status.notification_lines(kept, now)
    assert first == "  10:02:02Z platform-team-pager  firing   ServiceDown"
    assert labelled == "      service=api-gateway severity=critical owner=platform-team since 10:02:00Z"
    assert second.endswith("resolved Other") and other.endswith("service=- severity=- owner=- since ?")
    assert all(len(line) <= 80 for line in (first, labelled, second, other))
    assert status.since("2026-05-02T10:00:00Z", now) == "2026-05-02 10:00:00Z (1d5m ago)"
    store = {"alertname": "RedisConnectionFailure", "severity": "critical", "owner": "infra", "tier": "1"}
    store |= {"source": "exporter", "cluster": "airscope", "environment": "local"}
    line = status.firing_line({"labels": store, "startsAt": "2026-05-03T10:04:00Z"}, now)
    assert line.startswith(
        "FIRING RedisConnectionFailure service=- severity=critical owner=infra source=exporter\n"
        "  since 10:04:00Z"
    )


def test_the_on_call_pages_alerts_test_commands_parse():
    lines = [
        line.strip().removeprefix("$ ")
        for line in (checkout.root() / "docs/on-call.md").read_text().splitlines()
        if ".venv/bin/airscope alerts test " in line
    ]
    assert len(lines) >= 2
    for line in lines:
        _, _, name, *args = shlex.split(line)
        command = alerts.get_command(click.Context(alerts), name)
        with command.make_context(name, args):
            pass  # parsed: the receiver and the URL are options it takes
