"""A tool's answer as MCP carries it: the data as structured content, and as content a short line of
text for a person followed by the data as compact JSON (what the specification asks of a tool with
structured content, for clients that read only text). Every answer passes through the telemetry
kit's redaction first: whatever a log line or span holds, no secret leaves through a tool."""

from __future__ import annotations

import json
from typing import Any

from mcp_types import CallToolResult, TextContent

from airscope.telemetry import redact


def answer(summary: str, data: dict[str, Any]) -> CallToolResult:
    clean = redact(data)
    text = json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=str)
    return CallToolResult(
        content=[TextContent(type="text", text=str(redact(summary))), TextContent(type="text", text=text)],
        structured_content=clean,
    )
