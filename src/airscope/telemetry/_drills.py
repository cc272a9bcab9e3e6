"""Drill switches: a fault a service puts on itself when asked, so `airscope drill memory` can prove
that HighMemoryUsage fires and resolves, and a drill can make a service slow with CPU it burns itself
(HighLatency, and a profile that names the function burning it).

Off unless AIRSCOPE_DRILLS=1, and a service refuses to start with it in production (see Settings):
a production configuration cannot enable them. Served like the health probes, before routing: no
span, and an access line at debug; each switch logs a warning, so a drill shows in the logs.

- ``PUT /_drill/memory`` with ``{"bytes": N}``: holds N bytes of resident memory (replacing what
  was held), answers ``{"held_bytes": N}``.
- ``DELETE /_drill/memory``: releases it, answers ``{"held_bytes": 0}``.
- ``PUT /_drill/cpu`` with ``{"ms_per_request": N}`` (0 < N <= 1000): from then every request of the
  service but the probes, /metrics and the switches burns N ms of CPU on the event loop, in
  ``burn_cpu`` (the function a profile of the service then shows on top), answers ``{"ms_per_request": N}``.
- ``DELETE /_drill/cpu``: stops it, answers ``{"ms_per_request": 0}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from airscope.telemetry._logging import get_logger

MAX_BYTES = 8 * 1024**3  # a typo must not take the machine's memory
PAGE = 4096
MAX_BURN_MS = 1000  # a second per request already stalls every other request of the service
CPU_PATH = "/_drill/cpu"

log = get_logger("airscope.telemetry.drills")


class MemoryBallast:
    """Memory held on purpose, written to so that it is resident, not merely reserved."""

    def __init__(self) -> None:
        self._held = bytearray()

    @property
    def held_bytes(self) -> int:
        return len(self._held)

    def hold(self, size: int) -> None:
        self._held = bytearray()  # released first: holding N never needs 2N
        held = bytearray(size)
        # A fresh bytearray maps zero pages that cost nothing until written: touch one byte a page.
        for offset in range(0, size, PAGE):
            held[offset] = 1
        self._held = held

    def release(self) -> None:
        self._held = bytearray()


def burn_cpu(ms: float) -> None:
    """Keeps the CPU busy for ``ms`` milliseconds, holding the event loop like slow code would.

    Spins on the wall clock, not the thread's CPU time: the delay a request sees is then ``ms``
    whatever else the machine runs, so a drill's added latency is known.
    """
    deadline = time.perf_counter() + ms / 1000
    while time.perf_counter() < deadline:
        pass


class CpuBurner:
    """How many ms of CPU each request burns (0: none); the middleware asks it on every request."""

    def __init__(self) -> None:
        self.ms_per_request: float = 0


class CpuDrillRoute(Route):
    """The CPU switch's route, carrying the burner the middleware finds among the probes."""

    def __init__(self, path: str, endpoint, *, methods: list[str], burner: CpuBurner) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.burner = burner


def cpu_burner(probes: Mapping[str, BaseRoute]) -> CpuBurner | None:
    """The burner of the CPU switch among ``probes``; None when the drills are off."""
    return getattr(probes.get(CPU_PATH), "burner", None)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def drill_routes(service: str) -> list[Route]:
    ballast = MemoryBallast()

    async def memory(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            ballast.release()
            log.warning("drill: memory released", service=service)
            return JSONResponse({"held_bytes": 0})
        try:
            size = json.loads(await request.body())["bytes"]
        except (ValueError, KeyError, TypeError):
            return _error(422, "invalid_body", 'send {"bytes": N}, N a whole number of bytes')
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BYTES:
            return _error(422, "invalid_bytes", f"bytes must be a whole number from 0 to {MAX_BYTES}")
        ballast.hold(size)
        log.warning("drill: memory held", service=service, bytes=size)
        return JSONResponse({"held_bytes": ballast.held_bytes})

    burner = CpuBurner()

    async def cpu(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            burner.ms_per_request = 0
            log.warning("drill: cpu burn stopped", service=service)
            return JSONResponse({"ms_per_request": 0})
        try:
            ms = json.loads(await request.body())["ms_per_request"]
        except (ValueError, KeyError, TypeError):
            return _error(422, "invalid_body", 'send {"ms_per_request": N}, N in ms of CPU per request')
        if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 < ms <= MAX_BURN_MS:
            return _error(
                422,
                "invalid_ms_per_request",
                f"ms_per_request must be a number more than 0, at most {MAX_BURN_MS}",
            )
        burner.ms_per_request = ms
        log.warning("drill: cpu burned on every request", service=service, ms_per_request=ms)
        return JSONResponse({"ms_per_request": ms})

    return [
        Route("/_drill/memory", memory, methods=["PUT", "DELETE"]),
        CpuDrillRoute(CPU_PATH, cpu, methods=["PUT", "DELETE"], burner=burner),
    ]
