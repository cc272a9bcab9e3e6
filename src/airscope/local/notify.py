"""A test notification (`airscope alerts test --receiver R`): proves a receiver's route before a real
alert needs it.

The synthetic alert `AirscopeTestNotification` is labelled as an alert of the receiver's team with the
severity that reaches it (``owner=<team>`` and ``severity=critical`` for ``<team>-pager``, ``warning``
for ``<team>-chat``) and posted to Alertmanager's API v2 as Prometheus posts alerts, so it takes the
same routes, grouping, inhibitions, silences and maintenance windows as a real one. Locally it then
waits until the local receiver got it on every receiver the routing tree names for those labels (a
page's copy goes to the team's chat too) and on no other, and resolves it. Production's Alertmanager
sends to PagerDuty and Slack, which nothing here can read: the alert is posted to end on its own after
``HOLD`` (a page resolves then), and the operator checks the channel.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airscope.catalog import Catalog
from airscope.errors import AirscopeError
from airscope.local.drills.watch import Notifications
from airscope.promapi import Alertmanager
from airscope.stack import alertmanager
from airscope.stack.settings import RUNBOOK_BASE_URL

ALERTNAME = "AirscopeTestNotification"
# Long enough for production's group_wait (30 s) and a retry or two; the alert resolves itself then.
HOLD = timedelta(minutes=5)
# Every receiver of one alert is notified at the same flush: what has not come this long after the
# expected ones will not come from this alert.
SETTLE_SECONDS = 1.0
ON_CALL_DOC = RUNBOOK_BASE_URL.removesuffix("/runbooks") + "/on-call.md"


@dataclass
class Probe:
    """One test notification: its labels, the receivers the routing tree sends it to, and where it
    arrived (receiver -> seconds after it was posted)."""

    receiver: str
    labels: dict[str, str]
    expected: list[str]
    arrived: dict[str, float] = field(default_factory=dict)
    starts_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def unexpected(self) -> list[str]:
        return [name for name in self.arrived if name not in self.expected]

    @property
    def missing(self) -> list[str]:
        return [name for name in self.expected if name not in self.arrived]

    @property
    def proven(self) -> bool:
        return not self.missing and not self.unexpected

    def describe_labels(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.labels.items() if k != "alertname")
        return f"{ALERTNAME} ({shown})"


def probe(catalog: Catalog, receiver: str) -> Probe:
    """The test alert for ``receiver`` and where the routing tree sends it; an AirscopeError naming the
    known receivers for an unknown one."""
    known = alertmanager.receivers_of(catalog)
    if receiver not in known:
        raise AirscopeError(f"no receiver {receiver!r} (known: {', '.join(known)})")
    team, _, kind = receiver.rpartition("-")
    severity = alertmanager.PAGES if kind == "pager" else "warning"
    labels = {
        "alertname": ALERTNAME,
        "owner": team,
        "severity": severity,
        # Tells this test's notifications from an earlier one's still in the receiver's file.
        "test_id": uuid.uuid4().hex[:12],
    }
    return Probe(receiver, labels, alertmanager.expected_receivers(catalog, team, severity))


def _alert(found: Probe, ends_at: datetime) -> dict:
    return {
        "labels": found.labels,
        "annotations": {
            "summary": f"Test notification for {found.receiver}: the route works",
            "description": (
                f"Sent by `airscope alerts test --receiver {found.receiver}` to prove that an alert of "
                f"{found.labels['owner']} with severity {found.labels['severity']} reaches "
                f"{', '.join(found.expected)}. Nothing is wrong; it resolves itself."
            ),
            "runbook_url": ON_CALL_DOC,
        },
        "startsAt": found.starts_at.isoformat(),
        "endsAt": ends_at.isoformat(),
    }


def post(client: Alertmanager, found: Probe, hold: timedelta = HOLD) -> datetime:
    """Posts the test alert firing until ``hold`` from now; when it resolves itself."""
    found.starts_at = datetime.now(UTC)
    ends_at = found.starts_at + hold
    client.post_alerts([_alert(found, ends_at)])
    return ends_at


def resolve(client: Alertmanager, found: Probe) -> None:
    # The same labels and start, ending now (after the start: Alertmanager refuses an end before it).
    client.post_alerts([_alert(found, max(datetime.now(UTC), found.starts_at + timedelta(milliseconds=1)))])


def wait_arrivals(
    client: Alertmanager, found: Probe, notifications: Path, timeout: float, poll: float = 0.2
) -> Probe:
    """Posts the test alert, records where the local receiver got it until every expected receiver
    did (or ``timeout`` seconds passed), then resolves it. ``found.arrived`` says where it came."""
    watched = Notifications(notifications)
    started = time.monotonic()
    post(client, found)
    settle_until = None
    try:
        while True:
            for note in watched.new():
                if note.status == "firing" and note.labels.get("test_id") == found.labels["test_id"]:
                    found.arrived.setdefault(note.receiver, round(time.monotonic() - started, 1))
            now = time.monotonic()
            if settle_until is None and not found.missing:
                settle_until = now + SETTLE_SECONDS
            if (settle_until is not None and now >= settle_until) or now - started >= timeout:
                return found
            time.sleep(poll)
    finally:
        resolve(client, found)
