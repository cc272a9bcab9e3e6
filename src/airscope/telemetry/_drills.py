"""Drill switches: a fault a service puts on itself when asked, so `airscope drill memory` can prove
that HighMemoryUsage fires and resolves.

Off unless AIRSCOPE_DRILLS=1, and a service refuses to start with it in production (see Settings):
a production configuration cannot enable them. Served like the health probes, before routing: no
span, and an access line at debug; each switch logs a warning, so a drill shows in the logs.

- ``PUT /_drill/memory`` with ``{"bytes": N}``: holds N bytes of resident memory (replacing what
  was held), answers ``{"held_bytes": N}``.
- ``DELETE /_drill/memory``: releases it, answers ``{"held_bytes": 0}``.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airscope.telemetry._logging import get_logger

MAX_BYTES = 8 * 1024**3  # a typo must not take the machine's memory
PAGE = 4096

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

    return [Route("/_drill/memory", memory, methods=["PUT", "DELETE"])]
