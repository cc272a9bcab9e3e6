"""What a drill watches: the notifications the local receiver keeps, and what Alertmanager holds active.

A notification is Alertmanager's webhook payload: a group of alerts, each with its own ``status``
(``firing`` or ``resolved``). A drill reads only the lines written after it began.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from airscope.promapi import Alertmanager, Prometheus

Labels = Mapping[str, str]


def matches(labels: Labels, matcher: Labels) -> bool:
    return all(labels.get(name) == value for name, value in matcher.items())


# Prometheus' external labels: on what Alertmanager holds, not on what Prometheus evaluates.
EXTERNAL = ("cluster", "environment")


def describe(labels: Labels) -> str:
    """``AlertName{label="value", ...}`` without the labels every alert has."""
    shown = {k: v for k, v in sorted(labels.items()) if k not in ("alertname", "severity", *EXTERNAL)}
    inner = ", ".join(f'{k}="{v}"' for k, v in shown.items())
    return f"{labels.get('alertname', '?')}{{{inner}}}"


def key(labels: Labels) -> frozenset[tuple[str, str]]:
    """One alert, whether Alertmanager or Prometheus tells of it."""
    return frozenset((k, v) for k, v in labels.items() if k not in EXTERNAL and k != "alertstate")


@dataclass(frozen=True)
class Notified:
    """One alert in one notification."""

    at: datetime
    status: str  # firing | resolved
    labels: Labels
    receiver: str


class Notifications:
    """The receiver's notification file from a point on: ``new()`` yields what arrived since last asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new(self) -> Iterator[Notified]:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self.offset += end
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            kept = json.loads(line)
            at = datetime.fromisoformat(kept["received_at"])
            for alert in kept["notification"].get("alerts", []):
                yield Notified(at, alert.get("status", "firing"), alert.get("labels", {}), kept["receiver"])


def active_alerts(alertmanager: str) -> list[Labels]:
    """Every alert Alertmanager holds active, inhibited and silenced ones included."""
    with Alertmanager(alertmanager) as client:
        return [alert.labels for alert in client.alerts(active=True)]


def rule_alerts(prometheus: str) -> list[Labels]:
    """Every alert Prometheus evaluates as pending or firing."""
    with Prometheus(prometheus) as client:
        return [alert.labels for alert in client.alerts()]
