"""Watching the watchers (rules_meta.py, the Watchdog's route in alertmanager.py): every scraped job
but the services' has its TargetDown, the Watchdog goes to the dead man's switch alone and is neither
muted nor muting, and `airscope check` takes the switch's url_file that amtool 0.25 does not know."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from starlette.testclient import TestClient

from airscope import catalog, stack
from airscope.local import alert_receiver
from airscope.stack import alertmanager, prometheus, rules, rules_meta, settings
from airscope.stack.checks import tools
from airscope.units import parse_duration

needs_amtool = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool is not on PATH (make bootstrap installs it)"
)
WATCHDOG_LABELS = {"alertname": "Watchdog", "severity": "warning"}


def meta_rules(profile: settings.Profile) -> list[dict]:
    (group,) = [g for g in rules.alerts(catalog.load(), profile)["groups"] if g["name"] == rules_meta.GROUP]
    return group["rules"]


def scraped_jobs(config: dict) -> set[str]:
    return {job["job_name"] for job in config["scrape_configs"]}


@pytest.mark.parametrize("profile", settings.PROFILES, ids=lambda p: p.name)
def test_every_job_prometheus_scrapes_but_the_services_has_its_target_down(profile):
    config = (prometheus.compose if profile is settings.COMPOSE else prometheus.local)(catalog.load())
    down = {r["labels"]["job"]: r for r in meta_rules(profile) if r["alert"] == "TargetDown"}
    assert set(down) == scraped_jobs(config) - {settings.SERVICES_JOB}
    for job, rule in down.items():
        # up == 0 for a dead target, absent() for a job whose targets vanished.
        assert f'max by (job) (up{{job="{job}"}}) == 0' in rule["expr"]
        assert f'absent(up{{job="{job}"}})' in rule["expr"]
    # The point: node-exporter dead silenced DiskSpaceLow and host memory, in both profiles.
    assert "DiskSpaceLow" in down["node"]["annotations"]["description"]


def test_compose_watches_every_stack_component_and_exporter_and_its_remote_write():
    jobs = {r["labels"]["job"] for r in meta_rules(settings.COMPOSE) if r["alert"] == "TargetDown"}
    assert {
        *("prometheus", "alertmanager", "loki", "tempo", "mimir", "alloy", "grafana"),
        *("node", "redis", "postgres", "blackbox", "cadvisor"),
    } <= jobs
    names = {r["alert"] for r in meta_rules(settings.COMPOSE)}
    assert set(rules_meta.COMPOSE_ONLY) <= names
    assert not set(rules_meta.COMPOSE_ONLY) & {r["alert"] for r in meta_rules(settings.LOCAL)}


@pytest.mark.parametrize("profile", settings.PROFILES, ids=lambda p: p.name)
def test_every_meta_alert_has_an_interface_severity(profile):
    for rule in meta_rules(profile):
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]


def matches(matcher: str, labels: dict[str, str]) -> bool:
    name, op, value = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', matcher).groups()
    have = labels.get(name, "")
    return {
        "=": have == value,
        "!=": have != value,
        "=~": re.fullmatch(value, have) is not None,
        "!~": re.fullmatch(value, have) is None,
    }[op]


@pytest.mark.parametrize("profile", settings.PROFILES, ids=lambda p: p.name)
def test_the_watchdog_goes_first_and_only_to_the_dead_mans_switch(profile):
    config = alertmanager.config(catalog.load(), profile)
    first, *others = config["route"]["routes"]
    assert first["receiver"] == alertmanager.DEADMANSSWITCH
    assert all(matches(m, WATCHDOG_LABELS) for m in first["matchers"])
    assert not first.get("continue"), "the heartbeat must not reach a human channel"
    assert first["group_interval"] == settings.WATCHDOG_INTERVAL[profile.name]
    assert first["repeat_interval"] == settings.WATCHDOG_REPEAT[profile.name]
    # A repeat below the interval: a heartbeat at every flush, not every other one.
    assert parse_duration(first["repeat_interval"]) < parse_duration(first["group_interval"])
    # No other alert goes there.
    assert all(route["receiver"] != alertmanager.DEADMANSSWITCH for route in others)


@pytest.mark.parametrize("profile", settings.PROFILES, ids=lambda p: p.name)
def test_the_watchdog_neither_mutes_nor_is_muted(profile):
    watchdogs = [
        {"alertname": r["alert"], **r["labels"]}
        for r in meta_rules(profile)
        if r["alert"] == rules_meta.WATCHDOG
    ]
    for rule in alertmanager.config(catalog.load(), profile)["inhibit_rules"]:
        assert not all(matches(m, WATCHDOG_LABELS) for m in rule["source_matchers"]), rule
        if all(matches(m, WATCHDOG_LABELS) for m in rule["target_matchers"]):
            # Only through a source of the same alertname (critical over warning): no Watchdog is one.
            assert "alertname" in rule.get("equal", []), rule
            assert not any(all(matches(m, w) for m in rule["source_matchers"]) for w in watchdogs), rule


def test_compose_sends_the_watchdog_to_the_url_in_the_secret_file_and_never_a_resolution():
    receivers = {r["name"]: r for r in alertmanager.config(catalog.load(), settings.COMPOSE)["receivers"]}
    (webhook,) = receivers[alertmanager.DEADMANSSWITCH]["webhook_configs"]
    assert webhook == {"url_file": "/run/secrets/deadmansswitch_url", "send_resolved": False}


def test_the_local_watchdog_lands_on_the_receivers_heartbeat_path(tmp_path: Path):
    """The URL local mode renders reaches the receiver's heartbeat route, not its notifications."""
    text = alertmanager.render(catalog.load(), settings.LOCAL, receiver_url="http://127.0.0.1:9097/alerts")
    receivers = {r["name"]: r for r in yaml.safe_load(text)["receivers"]}
    (webhook,) = receivers[alertmanager.DEADMANSSWITCH]["webhook_configs"]
    assert webhook["send_resolved"] is False
    notifications, heartbeat = tmp_path / "n.jsonl", tmp_path / "h.json"
    with TestClient(alert_receiver.create_app(notifications, heartbeat)) as client:
        assert client.post(urlsplit(webhook["url"]).path, json={"alerts": []}).status_code == 200
    assert alert_receiver.read_heartbeat(heartbeat).beats == 1
    assert alert_receiver.read(notifications) == []


def test_the_amtool_stand_in_swaps_url_file_only():
    config = yaml.safe_load(stack.generate()[alertmanager.COMPOSE_PATH])
    swapped = yaml.safe_load(tools.for_amtool_025(yaml.safe_dump(config)))
    receivers = {r["name"]: r for r in swapped["receivers"]}
    assert receivers[alertmanager.DEADMANSSWITCH]["webhook_configs"] == [
        {"send_resolved": False, "url": tools.URL_FILE_STANDIN}
    ]
    for name in alertmanager.receivers_of(catalog.load()):
        assert receivers[name] == {r["name"]: r for r in config["receivers"]}[name]


@needs_amtool
def test_amtool_still_refuses_a_broken_compose_config(deployed: Path):
    assert tools.check(deployed) == []
    path = deployed / alertmanager.COMPOSE_PATH
    config = yaml.safe_load(path.read_text())
    (webhook,) = next(r for r in config["receivers"] if r["name"] == alertmanager.DEADMANSSWITCH)[
        "webhook_configs"
    ]
    webhook["send_resolved"] = "sometimes"  # not a boolean
    path.write_text(yaml.safe_dump(config))
    problems = tools.check(deployed)
    assert len(problems) == 1 and problems[0].startswith(
        f"{alertmanager.COMPOSE_PATH}: amtool check-config failed"
    )
    assert "sometimes" in problems[0]
