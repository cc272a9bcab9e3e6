"""Test doubles of an upstream that echo what reached them (not collected: no ``test_`` prefix),
served as ``tests.services.echo:<factory>``.

Instrumented by the kit like a real service, so that traces and request ids cross them the same way.
``<prefix>/slow?seconds=`` sleeps, ``<prefix>/status/{code}`` answers that status (with an
``X-Upstream`` header naming the double), anything else echoes what arrived.

- ``upstream``: an upstream of the api-gateway (echo-upstream);
- ``gateway_double``: the api-gateway behind the frontend (gateway-double, its routes under /api).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airscope.telemetry import instrument


def upstream() -> FastAPI:
    return echo_app("echo-upstream", prefix="", tag="echo")


def gateway_double() -> FastAPI:
    return echo_app("gateway-double", prefix="/api", tag="double")


def echo_app(service: str, *, prefix: str, tag: str) -> FastAPI:
    app = FastAPI()

    @app.get(prefix + "/slow")
    async def slow(seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get(prefix + "/status/{code}")
    async def status(code: int) -> JSONResponse:
        return JSONResponse({"status": code}, status_code=code, headers={"X-Upstream": tag})

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> dict:
        return {
            "method": request.method,
            "path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[name, value] for name, value in request.headers.items()],
            "body": (await request.body()).decode(errors="replace"),
        }

    instrument(app, service=service, version="0.0.0")
    return app
