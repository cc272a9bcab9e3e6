"""The local Alertmanager's webhook receiver: keeps every notification it gets, one JSON line each,
in ``alerts/notifications.jsonl`` under the local home, for ``airscope alerts`` and the drills.

Alertmanager posts a group of alerts per notification (its webhook payload, version 4); each line
is ``{"received_at": ..., "receiver": "pager"|"chat", "notification": <the payload>}``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airscope.local import paths

MAX_BODY = 1024 * 1024  # Alertmanager batches at most a group; a megabyte is far above one


def notifications_file() -> Path:
    return paths.home() / "alerts" / "notifications.jsonl"


def create_app(path: Path | None = None) -> Starlette:
    target = path or notifications_file()
    target.parent.mkdir(parents=True, exist_ok=True)

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "invalid_json", "message": "the body is not JSON"}, status_code=400)
        line = {
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
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
