"""The profiling switch: a service traces its own allocations for a bounded time when asked, so
`airscope profile --memory` can name the lines that hold the memory a HighMemoryUsage alert is about.

Off unless AIRSCOPE_PROFILE_SWITCH=1, which a service refuses in production (see Settings): while on,
anyone who reaches the service could make it trace every allocation. Served like the drill switches,
before routing: no span, an access line at debug, a warning logged at each start.

``POST /_profile/memory`` with ``{"seconds": S, "top": K}`` (0 < S <= 300, default 30; 1 <= K <= 100,
default 20): starts tracemalloc (one frame a trace), waits S seconds while the service keeps serving,
takes a snapshot and stops tracemalloc, then answers the K source lines whose allocations grew most
over the window, ``{"seconds", "traced_bytes", "peak_bytes", "top": [{"file", "line", "grown_bytes",
"count"}]}``. Tracing began with the window, so what it holds at the end is what the window grew:
memory allocated and still held, by the line that allocated it. 409 while a profile runs.

tracemalloc rather than an attaching tool (memray attach): it needs no debugger injected into the
process and costs nothing while off (docs/profiling.md has the measurements).
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airscope.telemetry._logging import get_logger

PATH = "/_profile/memory"
# Each trace keeps only the allocating line: the answer groups by it, and every frame more is paid on
# every allocation. Measured on a kit service at full load (docs/profiling.md): 1 frame kept 20 % of
# its requests/s while tracing, 25 frames 2 %.
FRAMES = 1
MAX_SECONDS = 300
DEFAULT_SECONDS = 30
MAX_TOP = 100
DEFAULT_TOP = 20
# What tracing itself allocates, and the import machinery's code objects: never the answer.
IGNORED = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
)

log = get_logger("airscope.telemetry.profile")


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def grown_lines(snapshot: tracemalloc.Snapshot, top: int) -> list[dict]:
    """The ``top`` lines holding the most of what ``snapshot`` traced, largest first."""
    statistics = snapshot.filter_traces(IGNORED).statistics("lineno")[:top]
    return [
        {
            "file": statistic.traceback[0].filename,
            "line": statistic.traceback[0].lineno,
            "grown_bytes": statistic.size,
            "count": statistic.count,
        }
        for statistic in statistics
    ]


def profile_routes(service: str) -> list[Route]:
    running = False

    async def memory(request: Request) -> JSONResponse:
        nonlocal running
        body = await request.body()
        try:
            asked = json.loads(body) if body.strip() else {}
            seconds = asked.get("seconds", DEFAULT_SECONDS)
            top = asked.get("top", DEFAULT_TOP)
        except (ValueError, AttributeError):
            return _error(422, "invalid_body", 'send {"seconds": S, "top": K}, or nothing for the defaults')
        if not _number(seconds) or not 0 < seconds <= MAX_SECONDS:
            return _error(
                422, "invalid_seconds", f"seconds must be a number more than 0, at most {MAX_SECONDS}"
            )
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP:
            return _error(422, "invalid_top", f"top must be a whole number from 1 to {MAX_TOP}")
        # tracemalloc is one per process: tracing started by anyone else (PYTHONTRACEMALLOC) is not ours to stop.
        if running or tracemalloc.is_tracing():
            return _error(409, "already_tracing", "a memory profile is running: ask again when it ends")
        running = True
        log.warning("profile: tracing memory", service=service, seconds=seconds)
        try:
            tracemalloc.start(FRAMES)
            try:
                await asyncio.sleep(seconds)
                snapshot = tracemalloc.take_snapshot()
                traced, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        finally:
            running = False
        # Grouping thousands of traces takes a while: off the event loop, which serves meanwhile.
        lines = await asyncio.to_thread(grown_lines, snapshot, top)
        return JSONResponse({"seconds": seconds, "traced_bytes": traced, "peak_bytes": peak, "top": lines})

    return [Route(PATH, memory, methods=["POST"])]
