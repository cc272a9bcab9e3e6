"""A stand-in for Alloy's faro.receiver (not collected: no ``test_`` prefix), served as
``tests.services.frontend.sink:create_app``: ``POST /collect`` keeps what arrived and answers 202 as
Alloy does; ``GET /received`` lists it (body, content type, traceparent)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response


def create_app() -> FastAPI:
    app = FastAPI()
    received: list[dict] = []

    @app.post("/collect")
    async def collect(request: Request) -> Response:
        received.append(
            {
                "body": (await request.body()).decode(),
                "content_type": request.headers.get("content-type"),
                "traceparent": request.headers.get("traceparent"),
            }
        )
        return Response(status_code=202)

    @app.get("/received")
    async def listed() -> list[dict]:
        return received

    return app
