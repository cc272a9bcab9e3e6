"""sample-service: greets by name. Small, but built like every service of the platform."""

from __future__ import annotations

from fastapi import FastAPI

import airscope
from airscope.services.common import ServiceError, install_error_handlers
from airscope.telemetry import get_logger, http_check, instrument
from tests.gen.sample_service.config import Config
from tests.gen.sample_service.metrics import GREETINGS

SERVICE = "sample-service"

log = get_logger(__name__)


def create_app() -> FastAPI:
    config = Config.from_env()
    app = FastAPI(title=SERVICE, version=airscope.__version__)
    install_error_handlers(app)
    instrument(
        app,
        service=SERVICE,
        version=airscope.__version__,
        # Not critical: greetings work without platform-services; /health says `warn` while it is away.
        checks=[http_check("platform-services", config.platform_url, critical=False)],
    )

    @app.get("/greetings/{name}")
    async def greet(name: str) -> dict[str, str]:
        if len(name) > config.max_name_length:
            GREETINGS.labels(outcome="refused").inc()
            raise ServiceError(
                422, "name_too_long", f"names have at most {config.max_name_length} characters"
            )
        GREETINGS.labels(outcome="ok").inc()
        return {"greeting": f"{config.greeting}, {name}"}

    log.info("sample-service configured", greeting=config.greeting)
    return app
