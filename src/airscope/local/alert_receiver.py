"""The local Alertmanager's webhook receiver: keeps every notification it gets, one JSON line each,
in ``alerts/notifications.jsonl`` under the local home, for ``airscope alerts`` and the drills.

Alertmanager posts a group of alerts per notification (its webhook payload, version 4) to
``/alerts/<receiver>``; each line is ``{"received_at": ..., "receiver": "<team>-pager"|"<team>-chat",
"notification": <the payload>}`` (the receivers of stack/alertmanager.py).

The always-firing Watchdog comes to a path of its own (``/alerts/deadmansswitch``) and is kept apart,
in ``alerts/heartbeat.json``: only when it was last heard, never as a notification, so that neither
``airscope alerts`` nor a drill ever counts it. Its absence is what matters: ``pipeline()`` says
whether it is overdue (docs/meta-monitoring.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airscope.local import paths
from airscope.stack.alertmanager import DEADMANSSWITCH
from airscope.stack.settings import WATCHDOG_INTERVAL, WATCHDOG_MISSED_BEATS
from airscope.units import format_duration, parse_duration

MAX_BODY = 1024 * 1024  # Alertmanager batches at most a group; a megabyte is far above one
# Heard less than this long ago, the pipeline works: a few local heartbeats may be missed in a row
# (a slow flush), not more.
OVERDUE_AFTER = WATCHDOG_MISSED_BEATS * parse_duration(WATCHDOG_INTERVAL["local"])
# A receiver that just started waits longer for its first: Prometheus and Alertmanager start after it.
FIRST_BEAT_WITHIN = 2 * OVERDUE_AFTER

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def notifications_file() -> Path:
    return paths.home() / "alerts" / "notifications.jsonl"


def heartbeat_file() -> Path:
    return paths.home() / "alerts" / "heartbeat.json"


@dataclass(frozen=True)
class Heartbeat:
    """What the receiver keeps of the Watchdog: since when it listens, and when it last heard it."""

    started_at: datetime
    last_heard_at: datetime | None = None
    beats: int = 0

    def as_json(self) -> dict:
        return {
            "started_at": self.started_at.isoformat(timespec="milliseconds"),
            "last_heard_at": self.last_heard_at and self.last_heard_at.isoformat(timespec="milliseconds"),
            "beats": self.beats,
        }


def _write_heartbeat(path: Path, beat: Heartbeat) -> None:
    # Whole or not at all: `airscope status` reads it at any moment.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(beat.as_json()))
    tmp.replace(path)


def read_heartbeat(path: Path | None = None) -> Heartbeat | None:
    """The receiver's heartbeat record; None when no receiver has run under this home."""
    try:
        kept = json.loads((path or heartbeat_file()).read_text())
    except (FileNotFoundError, ValueError):
        return None
    last = kept.get("last_heard_at")
    return Heartbeat(
        datetime.fromisoformat(kept["started_at"]),
        datetime.fromisoformat(last) if last else None,
        kept.get("beats", 0),
    )


@dataclass(frozen=True)
class Pipeline:
    """Whether the Watchdog arrives: ``state`` is ok, waiting (just started, none yet) or overdue."""

    state: str
    seconds: float | None  # since the last heartbeat, or since the receiver started when none yet
    heard: bool  # a heartbeat arrived since the receiver started

    @property
    def broken(self) -> bool:
        return self.state in ("overdue", "no-receiver")

    def describe(self) -> str:
        age = format_duration(round(self.seconds or 0))
        if self.state == "ok":
            return f"Watchdog heard {age} ago"
        if self.state == "waiting":
            return f"waiting for the first Watchdog (receiver up {age})"
        if self.state == "no-receiver":
            return "the alert receiver has never run here"
        return f"no Watchdog for {age}" if self.heard else f"no Watchdog since the receiver began, {age} ago"


def pipeline(beat: Heartbeat | None, now: datetime) -> Pipeline:
    """Is the alerting pipeline (Prometheus evaluating, Alertmanager sending) alive, by the Watchdog?"""
    if beat is None:
        return Pipeline("no-receiver", None, False)
    if beat.last_heard_at is None:
        waited = (now - beat.started_at).total_seconds()
        return Pipeline("waiting" if waited <= FIRST_BEAT_WITHIN else "overdue", waited, False)
    age = (now - beat.last_heard_at).total_seconds()
    return Pipeline("ok" if age <= OVERDUE_AFTER else "overdue", age, True)


def create_app(path: Path | None = None, heartbeat: Path | None = None, clock: Clock = _now) -> Starlette:
    target = path or notifications_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    beat_path = heartbeat or heartbeat_file()
    beat_path.parent.mkdir(parents=True, exist_ok=True)
    # A new receiver has heard nothing yet: what an earlier one heard says nothing about now.
    beat = Heartbeat(clock())
    _write_heartbeat(beat_path, beat)

    async def _payload(request: Request) -> dict | JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        try:
            return json.loads(body)
        except ValueError:
            return JSONResponse({"error": "invalid_json", "message": "the body is not JSON"}, status_code=400)

    async def heard(request: Request) -> JSONResponse:
        nonlocal beat
        payload = await _payload(request)
        if isinstance(payload, JSONResponse):
            return payload
        beat = Heartbeat(beat.started_at, clock(), beat.beats + 1)
        _write_heartbeat(beat_path, beat)
        return JSONResponse({"status": "heard"})

    async def receive(request: Request) -> JSONResponse:
        payload = await _payload(request)
        if isinstance(payload, JSONResponse):
            return payload
        line = {
            "received_at": clock().isoformat(timespec="milliseconds"),
            "receiver": request.path_params["receiver"],
            "notification": payload,
        }
        # One write of one line with O_APPEND: concurrent notifications never interleave.
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        finally:
            os.close(fd)
        return JSONResponse({"status": "kept"})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "pass"})

    return Starlette(
        routes=[
            # Before the general route, which would take it for a receiver's notification.
            Route(f"/alerts/{DEADMANSSWITCH}", heard, methods=["POST"]),
            Route("/alerts/{receiver}", receive, methods=["POST"]),
            Route("/health/live", health, methods=["GET"]),
        ]
    )


def read(path: Path | None = None) -> list[dict]:
    """Every notification kept so far, oldest first."""
    target = path or notifications_file()
    if not target.exists():
        return []
    return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
