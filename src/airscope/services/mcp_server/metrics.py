"""mcp-server's domain metrics, and the two hooks that feed them.

- ``ToolCallMetrics``: MCP middleware around every ``tools/call``, so a call refused for bad
  arguments counts as an error just like one that failed in airtable-gateway.
- ``InFlightRequests``: ASGI wrapper around the ``/mcp`` endpoint.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from airscope.services.mcp_server.tools import TOOL_NAMES
from airscope.telemetry import LATENCY_BUCKETS

# Any name a client invents is counted under this one label value.
OTHER_TOOL = "other"

TOOL_CALLS = Counter(
    "mcp_tool_calls_total",
    "MCP tool calls by tool and outcome (ok, or error: bad arguments, unknown tool, or the tool failed).",
    ["tool", "outcome"],
)
TOOL_DURATION = Histogram(
    "mcp_tool_duration_seconds",
    "Duration of MCP tool calls, including the airtable-gateway requests they make.",
    ["tool"],
    buckets=LATENCY_BUCKETS,
)
ACTIVE_SESSIONS = Gauge(
    "mcp_active_sessions",
    "MCP requests in flight on /mcp. The server is stateless (no MCP session outlives its HTTP "
    "request), so this is the number of sessions open right now.",
)

for _tool in (*TOOL_NAMES, OTHER_TOOL):
    # Every series exists from the start, so rate() and absence alerts see zeros, not gaps.
    TOOL_DURATION.labels(_tool)
    for _outcome in ("ok", "error"):
        TOOL_CALLS.labels(_tool, _outcome)


def tool_label(name: Any) -> str:
    return name if name in TOOL_NAMES else OTHER_TOOL


def _is_error(result: HandlerResult) -> bool:
    match result:
        case CallToolResult(is_error=True) | {"isError": True}:
            return True
    return False


class ToolCallMetrics:
    """MCP server middleware: counts and times ``tools/call``; other methods pass through."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        tool = tool_label((ctx.params or {}).get("name"))
        start = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = "error" if _is_error(result) else "ok"
            return result
        finally:
            TOOL_DURATION.labels(tool).observe(time.perf_counter() - start)
            TOOL_CALLS.labels(tool, outcome).inc()


class InFlightRequests:
    """Keeps ``mcp_active_sessions`` at the number of requests the wrapped app is serving."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with ACTIVE_SESSIONS.track_inprogress():
            await self.app(scope, receive, send)
