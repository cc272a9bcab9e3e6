"""alertmanager.yml for each profile: routing by owner and severity, grouping, inhibitions, receivers,
and the catalog's maintenance windows.

Every alert carries `owner` (a team of the catalog); each team has a receiver pair: `<team>-pager`
(PagerDuty, critical alerts) and `<team>-chat` (Slack in the team's channel, plus email where the team
has an address: critical and warning alerts). An alert without a known owner reaches `infra-chat`.
The routes and inhibitions are the same in both profiles; the receivers differ, and only compose mutes
the teams' routes during the catalog's maintenance windows (local mode leaves them out so that a drill
notifies at any hour, unless a caller hands windows in to prove one).

In compose, PagerDuty and Slack credentials, the SMTP password and the dead man's switch's URL come
from compose secrets (files under /run/secrets), so no secret is ever written into a config file.
Locally, every receiver is a webhook to the local receiver (at `.../<receiver name>`) that keeps every
notification for `airscope alerts` and the drills, and the Watchdog's heartbeats apart from them
(docs/meta-monitoring.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from airscope.catalog import INFRA_TEAM, Catalog, MaintenanceWindow, Team
from airscope.stack import _yaml, settings
from airscope.stack.compose_env import (
    DEADMANSSWITCH_SECRET,
    SECRETS_MOUNT,
    SMTP_PASSWORD_SECRET,
    pagerduty_secret,
    slack_secret,
)
from airscope.stack.rules_meta import WATCHDOG
from airscope.stack.settings import COMPOSE, Profile

COMPOSE_PATH = "deploy/alertmanager/alertmanager.yml"
LOCAL_PATH = "deploy/local/alertmanager.yml"
# The Watchdog's receiver: production's dead man's switch (a URL that alarms when pings stop), the
# local receiver's heartbeat path locally.
DEADMANSSWITCH = "deadmansswitch"
DEADMANSSWITCH_URL_FILE = SECRETS_MOUNT + DEADMANSSWITCH_SECRET
LOCAL_RECEIVER_URL = "http://127.0.0.1:9097/alerts"  # local mode renders its own port in
PAGES, INFORMS = "critical", "critical|warning"  # the severities each receiver of a pair gets
# The mail relay of the teams' email_configs, written only when a team has an `email`: point it at
# yours. Its password comes from a compose secret (SMTP_PASSWORD_SECRET) like every other credential.
SMTP = {
    "smtp_smarthost": "smtp.example.com:587",
    "smtp_from": "alertmanager@example.com",
    "smtp_auth_username": "alertmanager@example.com",
    "smtp_require_tls": True,
}

# What a failing dependency or a dead service explains; muted while the cause fires.
SYMPTOMS = ("HighErrorRate", "HighLatency", "ErrorBudgetBurn", "LatencyBudgetBurn")
# A burn-rate page and the threshold alert of the same service tell one incident: the page mutes the
# threshold alert (the SRE workbook's burn-rate alerts replace threshold alerts). Only the page: a slow
# burn's warning (1d, 3d windows) can last days, and must not hide a fresh error spike meanwhile.
BURN_MUTES = {"ErrorBudgetBurn": "HighErrorRate", "LatencyBudgetBurn": "HighLatency"}


def pager(team: str) -> str:
    return f"{team}-pager"


def chat(team: str) -> str:
    return f"{team}-chat"


def receivers_of(catalog: Catalog) -> list[str]:
    """Every receiver a person reads, team by team (the deadmansswitch is no person's)."""
    return [name for team in catalog.teams for name in (pager(team), chat(team))]


def expected_receivers(catalog: Catalog, owner: str, severity: str) -> list[str]:
    """Where an alert of ``owner`` and ``severity`` is sent, in the routing tree's order: what
    `airscope check` asks amtool to confirm."""
    team = owner if owner in catalog.teams else None
    if team is None:
        return [chat(INFRA_TEAM)]
    if severity == PAGES:
        return [pager(team), chat(team)]
    return [chat(team)]


def _windows(catalog: Catalog, profile: Profile, maintenance: Mapping[str, MaintenanceWindow] | None):
    if maintenance is not None:
        return dict(maintenance)
    return dict(catalog.maintenance) if profile is COMPOSE else {}


def _muted(team: str, windows: Mapping[str, MaintenanceWindow]) -> dict:
    names = [name for name, window in windows.items() if team in window.teams]
    return {"mute_time_intervals": names} if names else {}


def _team_route(team: str, profile: Profile, windows: Mapping[str, MaintenanceWindow]) -> dict:
    # Alertmanager does not inherit mute_time_intervals: each route of the team names them (a list
    # of its own each, or the YAML would hold anchors).
    return {
        # The team's own chat also gets its alerts of any other severity.
        "receiver": chat(team),
        "matchers": [f'owner="{team}"'],
        **_muted(team, windows),
        "routes": [
            {
                "receiver": pager(team),
                "matchers": [f'severity="{PAGES}"'],
                "repeat_interval": profile.repeat_interval_critical,
                "continue": True,  # the team's channel sees its pages too
                **_muted(team, windows),
            },
            {"receiver": chat(team), "matchers": [f'severity=~"{INFORMS}"'], **_muted(team, windows)},
        ],
    }


def _route(catalog: Catalog, profile: Profile, windows: Mapping[str, MaintenanceWindow]) -> dict:
    return {
        # No known owner: the team that owns what is not a service hears of it.
        "receiver": chat(INFRA_TEAM),
        "group_by": ["alertname", "service"],
        "group_wait": profile.group_wait,
        "group_interval": profile.group_interval,
        "repeat_interval": profile.repeat_interval_warning,
        "routes": [
            # First and without `continue`: the heartbeat reaches the switch and no human channel.
            {
                "receiver": DEADMANSSWITCH,
                "matchers": [f'alertname="{WATCHDOG}"'],
                "group_interval": settings.WATCHDOG_INTERVAL[profile.name],
                "repeat_interval": settings.WATCHDOG_REPEAT[profile.name],
            },
            *(_team_route(team, profile, windows) for team in catalog.teams),
        ],
    }


# Alertmanager's week starts on Sunday: a range must not run past Saturday ("monday:sunday" is refused).
AM_WEEK = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


def _weekdays(days: tuple[str, ...]) -> list[str]:
    """The catalog's days and ranges as Alertmanager takes them: a range over the end of its week is
    split in two (``monday:sunday`` -> ``monday:saturday``, ``sunday``)."""
    found: list[str] = []
    for day in days:
        first, _, last = day.partition(":")
        if not last or AM_WEEK.index(first) <= AM_WEEK.index(last):
            found.append(day)
            continue
        for start, end in ((first, "saturday"), ("sunday", last)):
            found.append(start if start == end else f"{start}:{end}")
    return found


def _time_intervals(windows: Mapping[str, MaintenanceWindow]) -> list[dict]:
    intervals = []
    for name, window in windows.items():
        start, end = window.times.split("-")
        intervals.append(
            {
                "name": name,
                "time_intervals": [
                    {
                        "weekdays": _weekdays(window.weekdays),
                        "times": [{"start_time": start, "end_time": end}],
                        "location": window.location,
                    }
                ],
            }
        )
    return intervals


def _dependents(catalog: Catalog, infrastructure: str) -> str:
    return "|".join(s.name for s in catalog.services.values() if infrastructure in s.requires)


def _inhibitions(catalog: Catalog) -> list[dict]:
    symptoms = "|".join(SYMPTOMS)
    rules = [
        {
            "source_matchers": ['alertname="ServiceDown"'],
            "target_matchers": [f'alertname=~"{symptoms}"'],
            "equal": ["service"],
        },
        *(
            {
                "source_matchers": [f'alertname="{burn}"', 'severity="critical"'],
                "target_matchers": [f'alertname="{threshold}"'],
                "equal": ["service"],
            }
            for burn, threshold in BURN_MUTES.items()
        ),
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            # instance and mountpoint too: a full disk must not mute the warning of another one.
            "equal": ["alertname", "service", "instance", "mountpoint"],
        },
    ]
    for alert, infrastructure in (
        ("DatabaseConnectionFailure", "postgres"),
        ("RedisConnectionFailure", "redis"),
    ):
        dependents = _dependents(catalog, infrastructure)
        if not dependents:
            continue
        # The exporter's alert names the cause; the dependents' failing health checks and their
        # errors are its symptoms.
        rules.append(
            {
                "source_matchers": [f'alertname="{alert}"', 'source="exporter"'],
                "target_matchers": [f'alertname=~"{symptoms}|{alert}"', f'service=~"{dependents}"'],
            }
        )
    return rules


def _compose_team_receivers(team: Team) -> list[dict]:
    chat_receiver: dict = {
        "name": chat(team.name),
        "slack_configs": [
            {
                # One incoming webhook per team: Slack posts a webhook's messages to the channel it
                # was made for, whatever `channel` says; `channel` names it for the reader.
                "api_url_file": SECRETS_MOUNT + slack_secret(team.name),
                "channel": team.channel,
                "send_resolved": True,
                "title": (
                    "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}"
                    " ({{ .CommonLabels.severity }})"
                ),
                "text": (
                    "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
                    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
                ),
            }
        ],
    }
    if team.email:
        chat_receiver["email_configs"] = [{"to": team.email, "send_resolved": True}]
    return [
        {
            "name": pager(team.name),
            "pagerduty_configs": [
                {
                    # The routing key of the team's PagerDuty service, which follows its escalation policy.
                    "routing_key_file": SECRETS_MOUNT + pagerduty_secret(team.name),
                    "send_resolved": True,
                }
            ],
        },
        chat_receiver,
    ]


def _compose_receivers(catalog: Catalog) -> list[dict]:
    return [
        {
            "name": DEADMANSSWITCH,
            # A switch alarms on silence: a resolved message would mean nothing to it. url_file is
            # Alertmanager 0.26+; `airscope check` stands in for it before amtool 0.25 (checks/tools.py).
            "webhook_configs": [{"url_file": DEADMANSSWITCH_URL_FILE, "send_resolved": False}],
        },
        *(receiver for team in catalog.teams.values() for receiver in _compose_team_receivers(team)),
    ]


def _local_receivers(catalog: Catalog, url: str) -> list[dict]:
    heartbeat = {"url": f"{url}/{DEADMANSSWITCH}", "send_resolved": False}
    return [
        {"name": DEADMANSSWITCH, "webhook_configs": [heartbeat]},
        *(
            {"name": name, "webhook_configs": [{"url": f"{url}/{name}", "send_resolved": True}]}
            for name in receivers_of(catalog)
        ),
    ]


def config(
    catalog: Catalog,
    profile: Profile,
    receiver_url: str = LOCAL_RECEIVER_URL,
    maintenance: Mapping[str, MaintenanceWindow] | None = None,
) -> dict:
    """``maintenance``: the windows to render instead of the catalog's, in either profile (a test
    proves a window locally with one over the current time)."""
    windows = _windows(catalog, profile, maintenance)
    document: dict = {}
    if profile is COMPOSE and any(team.email for team in catalog.teams.values()):
        document["global"] = {**SMTP, "smtp_auth_password_file": SECRETS_MOUNT + SMTP_PASSWORD_SECRET}
    document["route"] = _route(catalog, profile, windows)
    document["inhibit_rules"] = _inhibitions(catalog)
    document["receivers"] = (
        _compose_receivers(catalog) if profile is COMPOSE else _local_receivers(catalog, receiver_url)
    )
    if windows:
        document["time_intervals"] = _time_intervals(windows)
    return document


def render(
    catalog: Catalog,
    profile: Profile,
    receiver_url: str = LOCAL_RECEIVER_URL,
    maintenance: Mapping[str, MaintenanceWindow] | None = None,
) -> str:
    return _yaml.dump(config(catalog, profile, receiver_url, maintenance), _yaml.header("alertmanager.py"))


def generate(catalog: Catalog) -> dict[str, str]:
    return {COMPOSE_PATH: render(catalog, COMPOSE), LOCAL_PATH: render(catalog, settings.LOCAL)}
