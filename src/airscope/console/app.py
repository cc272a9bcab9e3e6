"""The console's web application: its pages (one HTML shell; the browser routes Grafana's URL
shapes) and the JSON API they read."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from airscope.console import api_alerts, api_dashboards, api_logs, api_profiles, api_traces
from airscope.console.settings import ConsoleConfig

STATIC = Path(__file__).parent / "static"
# Grafana's page URLs (and the console's own), all served the one shell that routes in the browser.
PAGES = (
    "/",
    "/dashboards",
    "/d/{uid}",
    "/d/{uid}/{slug}",
    "/explore",
    "/alerting/list",
    "/alerting/silences",
    "/runbooks/{name}",
    "/profiles",
    "/profiles/{name}",
)


def create_app(config: ConsoleConfig | None = None) -> FastAPI:
    app = FastAPI(title="airscope console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config or ConsoleConfig.from_environment()
    for module in (api_dashboards, api_logs, api_traces, api_alerts, api_profiles):
        app.include_router(module.router)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """Every API error is ``{"message": ...}`` (the browser shows it as is), FastAPI's own included."""
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ()) if part != 'body') or 'request'}: {error.get('msg')}"
            for error in exc.errors()
        )
        return JSONResponse({"message": f"bad request: {problems}"}, status_code=400)

    async def shell() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, shell, methods=["GET"], include_in_schema=False)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> JSONResponse:
        return JSONResponse({"status": "pass"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
