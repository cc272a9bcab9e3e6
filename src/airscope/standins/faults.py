"""The runtime fault switch both stand-ins share: make the SaaS slow, flaky or down while things run.

Admin API (never affected by the faults themselves):

- ``GET /_admin/health`` → 200 ``{"status": "pass"}`` (local mode's readiness probe).
- ``GET /_admin/faults`` → the current state ``{"error_rate", "extra_latency_ms", "down",
  "rate_limited_rate"}``.
- ``PUT /_admin/faults`` with any subset of ``{"error_rate": 0..1, "extra_latency_ms": >=0,
  "down": bool, "rate_limited_rate": 0..1}`` → changes those, answers the new state.
- ``DELETE /_admin/faults`` → back to no faults, answers the new state.

Every other request (the provider's API) first waits the base latency (``STANDIN_LATENCY_MS``,
default 0) plus ``extra_latency_ms``; then, when ``down``, answers 503, else with probability
``error_rate`` answers 500, else with probability ``rate_limited_rate`` answers 429 with
``Retry-After: 1`` (the provider's rate limit refusing us: Airtable's 5 requests/s per base shared
with another client). Each stand-in supplies the body in its provider's error shape.

A switch that makes the platform fail on request has no place in production: every stand-in calls
``airscope.standins.settings.refuse_production()`` first and will not start when ``AIRSCOPE_ENVIRONMENT=production``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from airscope.standins.settings import FaultSettings, load

ADMIN_PREFIX = "/_admin"

# (status, message) -> the provider's JSON error body for that status.
ErrorBody = Callable[[int, str], dict[str, Any]]


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0
    extra_latency_ms: float = 0.0
    down: bool = False
    rate_limited_rate: float = 0.0


# The seconds a fault switch's 429 asks the client to wait (whole seconds, as providers send it).
RETRY_AFTER_SECONDS = 1


class FaultUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_rate: float | None = Field(default=None, ge=0, le=1)
    extra_latency_ms: float | None = Field(default=None, ge=0)
    down: bool | None = None
    rate_limited_rate: float | None = Field(default=None, ge=0, le=1)


class FaultSwitch:
    """The current faults and the base latency; one per app, changed through the admin API."""

    def __init__(
        self,
        base_latency_ms: float = 0.0,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_latency_ms = base_latency_ms
        self.faults = Faults()
        self._rng = rng or random.Random()
        self.sleep = sleep  # how the latency is waited: tests count the waits instead of timing them

    @classmethod
    def from_env(cls) -> FaultSwitch:
        return cls(load(FaultSettings).latency_ms)

    def update(self, change: FaultUpdate) -> Faults:
        self.faults = replace(self.faults, **change.model_dump(exclude_none=True))
        return self.faults

    def reset(self) -> Faults:
        self.faults = Faults()
        return self.faults

    async def failure(self) -> tuple[int, str] | None:
        """Waits the configured latency, then says whether this request fails, and how."""
        faults = self.faults
        delay_ms = self.base_latency_ms + faults.extra_latency_ms
        if delay_ms > 0:
            await self.sleep(delay_ms / 1000)
        if faults.down:
            return 503, "The service is temporarily unavailable (stand-in fault switch: down)."
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            return 500, "An internal server error occurred (stand-in fault switch: error_rate)."
        if faults.rate_limited_rate > 0 and self._rng.random() < faults.rate_limited_rate:
            return 429, "Rate limit exceeded (stand-in fault switch: rate_limited_rate)."
        return None


class FaultMiddleware:
    """Applies the switch to every request outside the admin API."""

    def __init__(self, app: ASGIApp, switch: FaultSwitch, error_body: ErrorBody) -> None:
        self.app = app
        self.switch = switch
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        failure = await self.switch.failure()
        if failure is None:
            await self.app(scope, receive, send)
            return
        status, message = failure
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
        await JSONResponse(self.error_body(status, message), status_code=status, headers=headers)(
            scope, receive, send
        )


def admin_router(switch: FaultSwitch) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "pass"}

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(switch.faults)

    @router.put("/faults")
    async def put_faults(change: FaultUpdate) -> dict[str, Any]:
        return asdict(switch.update(change))

    @router.delete("/faults")
    async def delete_faults() -> dict[str, Any]:
        return asdict(switch.reset())

    return router


def install_faults(app: FastAPI, error_body: ErrorBody, switch: FaultSwitch | None = None) -> FaultSwitch:
    """Adds the admin API and the fault middleware to a stand-in; the switch is also ``app.state.faults``."""
    switch = switch or FaultSwitch.from_env()
    app.include_router(admin_router(switch))
    app.add_middleware(FaultMiddleware, switch=switch, error_body=error_body)
    app.state.faults = switch
    return switch
