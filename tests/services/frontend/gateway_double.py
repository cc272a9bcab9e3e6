"""A stand-in for the api-gateway behind the frontend (not collected: no ``test_`` prefix).

Instrumented by the kit like the real one, so trace context crosses it the same way.
``/api/slow?seconds=`` sleeps, ``/api/status/{code}`` answers that status, anything else echoes
what arrived.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airscope.telemetry import instrument


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/slow")
    async def slow(seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/api/status/{code}")
    async def status(code: int) -> JSONResponse:
        return JSONResponse({"status": code}, status_code=code, headers={"X-Upstream": "double"})

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> dict:
        return {
            "method": request.method,
            "path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[name, value] for name, value in request.headers.items()],
            "body": (await request.body()).decode(errors="replace"),
        }

    instrument(app, service="gateway-double", version="0.0.0")
    return app
