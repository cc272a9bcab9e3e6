"""Routing by owner (alertmanager.py, checks/routes.py): every team's alerts reach its own receivers
as amtool resolves the generated configs, maintenance windows mute the teams they name in compose
only, a team's email is mailed through the global relay, and a burn-rate alert mutes the threshold
alert of its service."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from airscope import catalog, checkout
from airscope.stack import alertmanager, compose, compose_env, settings
from airscope.stack.checks import routes, tools

needs_amtool = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool is not on PATH (make bootstrap installs it)"
)
WINDOW = catalog.MaintenanceWindow(
    name="now", teams=("ai-team",), weekdays=["monday:sunday"], times="00:00-24:00", reason="a test"
)


def with_email() -> catalog.Catalog:
    """The project's catalog with data-team mailed too."""
    data = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    data["teams"]["data-team"]["email"] = "data-oncall@example.com"
    return catalog.parse(data)


@needs_amtool
def test_amtool_routes_every_team_and_severity_to_the_expected_receivers(deployed: Path):
    assert routes.check(deployed) == []
    local = deployed / tools.ALERTMANAGER_CONFIGS[1]
    assert routes.resolve(local, {"owner": "data-team", "severity": "critical"}) == [
        "data-team-pager",
        "data-team-chat",
    ]
    assert routes.resolve(local, {"owner": "data-team", "severity": "warning"}) == ["data-team-chat"]
    assert routes.resolve(local, {"owner": "someone-else", "severity": "critical"}) == ["infra-chat"]


@needs_amtool
def test_the_routes_check_names_an_alert_that_reaches_the_wrong_team(deployed: Path):
    path = deployed / alertmanager.COMPOSE_PATH
    path.write_text(path.read_text().replace('owner="web-team"', 'owner="ai-team"'))
    problems = routes.check(deployed)
    assert (
        f"{alertmanager.COMPOSE_PATH}: alertname=RouteTest owner=web-team severity=critical reaches ['infra-chat'], not ['web-team-pager', 'web-team-chat']"
        in problems
    )
    assert all(p.startswith(alertmanager.COMPOSE_PATH) for p in problems)


def test_every_case_covers_each_team_and_no_owner():
    owners = {labels["owner"] for labels, _ in routes.cases(catalog.load())}
    assert owners == {*catalog.load().teams, routes.NO_OWNER}


def test_maintenance_windows_mute_the_teams_they_name_in_compose_only():
    project = catalog.load()
    compose_config = alertmanager.config(project, settings.COMPOSE)
    assert [i["name"] for i in compose_config["time_intervals"]] == list(project.maintenance)
    (store_upgrades,) = compose_config["time_intervals"]
    assert store_upgrades["time_intervals"] == [
        {"weekdays": ["sunday"], "times": [{"start_time": "02:00", "end_time": "04:00"}], "location": "UTC"}
    ]
    by_owner = {r["matchers"][0]: r for r in compose_config["route"]["routes"][1:]}
    infra = by_owner['owner="infra"']
    # Not inherited by Alertmanager: the team's route and each route under it name the window.
    assert infra["mute_time_intervals"] == ["store-upgrades"]
    assert all(child["mute_time_intervals"] == ["store-upgrades"] for child in infra["routes"])
    assert "mute_time_intervals" not in yaml.safe_dump(by_owner['owner="ai-team"'])
    # Local mode notifies at any hour: a drill must not depend on the clock.
    local = alertmanager.config(project, settings.LOCAL)
    assert "time_intervals" not in local and "mute_time_intervals" not in yaml.safe_dump(local)


def test_windows_handed_in_replace_the_catalogs_in_either_profile():
    for profile in settings.PROFILES:
        config = alertmanager.config(catalog.load(), profile, maintenance={"now": WINDOW})
        assert [i["name"] for i in config["time_intervals"]] == ["now"]
        by_owner = {r["matchers"][0]: r for r in config["route"]["routes"][1:]}
        assert by_owner['owner="ai-team"']["mute_time_intervals"] == ["now"]
        assert "mute_time_intervals" not in by_owner['owner="infra"']


@needs_amtool
def test_a_window_over_the_whole_week_is_a_config_amtool_accepts(tmp_path: Path):
    path = tmp_path / "alertmanager.yml"
    path.write_text(alertmanager.render(catalog.load(), settings.LOCAL, maintenance={"now": WINDOW}))
    accepted, said = tools.run("amtool", "check-config", str(path))
    assert accepted, said


@needs_amtool
def test_a_team_with_an_address_is_mailed_through_the_relay_whose_password_is_a_secret(tmp_path: Path):
    mailed = with_email()
    config = alertmanager.config(mailed, settings.COMPOSE)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["data-team-chat"]["email_configs"] == [
        {"to": "data-oncall@example.com", "send_resolved": True}
    ]
    assert (
        "email_configs" not in receivers["ai-team-chat"]
        and "email_configs" not in receivers["data-team-pager"]
    )
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/smtp_auth_password"
    assert "smtp_auth_password" in compose_env.secrets(mailed)
    assert "smtp_auth_password" in compose.compose(mailed)["services"]["alertmanager"]["secrets"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(tools.for_amtool_025(alertmanager.render(mailed, settings.COMPOSE)))
    accepted, said = tools.run("amtool", "check-config", str(path))
    assert accepted, said


def test_every_team_has_its_pagerduty_key_and_slack_webhook_as_secret_files():
    project = catalog.load()
    spec = compose.compose(project)
    for team in project.teams:
        for name in (f"pagerduty_routing_key_{team}", f"slack_webhook_url_{team}"):
            assert spec["secrets"][name] == {"file": f"./secrets/{name}"}
            assert name in spec["services"]["alertmanager"]["secrets"]
    assert "smtp_auth_password" not in spec["secrets"]  # no team is mailed


def test_a_burn_rate_page_mutes_the_threshold_alert_of_its_own_service():
    rules = alertmanager.config(catalog.load(), settings.LOCAL)["inhibit_rules"]
    for burn, threshold in (("ErrorBudgetBurn", "HighErrorRate"), ("LatencyBudgetBurn", "HighLatency")):
        # Only the page: a slow burn's warning lasts days and must not hide a fresh spike.
        assert {
            "source_matchers": [f'alertname="{burn}"', 'severity="critical"'],
            "target_matchers": [f'alertname="{threshold}"'],
            "equal": ["service"],
        } in rules


@pytest.mark.parametrize(
    ("days", "written"),
    [
        (["sunday"], ["sunday"]),
        (["monday:friday"], ["monday:friday"]),
        (["monday:sunday"], ["monday:saturday", "sunday"]),
        (["saturday:monday"], ["saturday", "sunday:monday"]),
    ],
)
def test_a_range_over_the_end_of_alertmanagers_week_is_split(days, written):
    window = WINDOW.model_copy(update={"weekdays": tuple(days)})
    (interval,) = alertmanager.config(catalog.load(), settings.LOCAL, maintenance={"now": window})[
        "time_intervals"
    ]
    assert interval["time_intervals"][0]["weekdays"] == written


@needs_amtool
def test_on_calls_amtool_example_answers_what_it_shows():
    """docs/on-call.md's `$ amtool config routes test ...` line, run from the checkout, prints the line
    the page gives under it."""
    lines = (checkout.root() / "docs/on-call.md").read_text().splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.strip().startswith("$ amtool config routes test")]
    command = shlex.split(lines[at].strip().removeprefix("$ "))
    done = subprocess.run(command, cwd=checkout.root(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == lines[at + 1].strip()


def test_the_deployment_guides_secret_loop_names_every_team():
    text = (checkout.root() / "docs/deployment.md").read_text()
    (loop,) = re.findall(r"for team in ([\w -]+); do", text)
    assert loop.split() == list(catalog.load().teams)
