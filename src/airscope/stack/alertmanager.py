"""alertmanager.yml for each profile: routing by severity, grouping, inhibitions, receivers.

The routes and inhibitions are the same in both profiles; only the receivers differ. In compose,
PagerDuty and Slack credentials and the dead man's switch's URL come from compose secrets (files under
/run/secrets), so no secret is ever written into a config file. Locally, every receiver is a webhook
to the local receiver that keeps every notification for `airscope alerts` and the drills, and
the Watchdog's heartbeats apart from them (docs/meta-monitoring.md).
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings
from airscope.stack.rules_meta import WATCHDOG
from airscope.stack.settings import COMPOSE, LOCAL, Profile

COMPOSE_PATH = "deploy/alertmanager/alertmanager.yml"
LOCAL_PATH = "deploy/local/alertmanager.yml"
PAGER, CHAT = "pager", "chat"
# The Watchdog's receiver: production's dead man's switch (a URL that alarms when pings stop), the
# local receiver's heartbeat path locally.
DEADMANSSWITCH = "deadmansswitch"
DEADMANSSWITCH_URL_FILE = "/run/secrets/deadmansswitch_url"
LOCAL_RECEIVER_URL = "http://127.0.0.1:9097/alerts"  # local mode renders its own port in

# What a failing dependency or a dead service explains; muted while the cause fires.
SYMPTOMS = ("HighErrorRate", "HighLatency", "ErrorBudgetBurn", "LatencyBudgetBurn")


def _route(profile: Profile) -> dict:
    return {
        "receiver": CHAT,
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
            {
                "receiver": PAGER,
                "matchers": ['severity="critical"'],
                "repeat_interval": profile.repeat_interval_critical,
                "continue": True,  # the chat channel sees pages too
            },
            {"receiver": CHAT, "matchers": ['severity=~"critical|warning"']},
        ],
    }


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


def _compose_receivers() -> list[dict]:
    return [
        {
            "name": DEADMANSSWITCH,
            # A switch alarms on silence: a resolved message would mean nothing to it. url_file is
            # Alertmanager 0.26+; `airscope check` stands in for it before amtool 0.25 (checks/tools.py).
            "webhook_configs": [{"url_file": DEADMANSSWITCH_URL_FILE, "send_resolved": False}],
        },
        {
            "name": PAGER,
            "pagerduty_configs": [
                {"routing_key_file": "/run/secrets/pagerduty_routing_key", "send_resolved": True}
            ],
        },
        {
            "name": CHAT,
            "slack_configs": [
                {
                    "api_url_file": "/run/secrets/slack_webhook_url",
                    "send_resolved": True,
                    "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}",
                    "text": (
                        "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
                        "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
                    ),
                }
            ],
        },
    ]


def _local_receivers(url: str) -> list[dict]:
    heartbeat = {"url": f"{url}/{DEADMANSSWITCH}", "send_resolved": False}
    return [
        {"name": DEADMANSSWITCH, "webhook_configs": [heartbeat]},
        *(
            {"name": name, "webhook_configs": [{"url": f"{url}/{name}", "send_resolved": True}]}
            for name in (PAGER, CHAT)
        ),
    ]


def config(catalog: Catalog, profile: Profile, receiver_url: str = LOCAL_RECEIVER_URL) -> dict:
    receivers = _compose_receivers() if profile is COMPOSE else _local_receivers(receiver_url)
    return {
        "route": _route(profile),
        "inhibit_rules": _inhibitions(catalog),
        "receivers": receivers,
    }


def render(catalog: Catalog, profile: Profile, receiver_url: str = LOCAL_RECEIVER_URL) -> str:
    return _yaml.dump(config(catalog, profile, receiver_url), _yaml.header("alertmanager.py"))


def generate(catalog: Catalog) -> dict[str, str]:
    return {COMPOSE_PATH: render(catalog, COMPOSE), LOCAL_PATH: render(catalog, LOCAL)}
