"""mcp-server's tools for the model: listed over MCP, offered as OpenAI function tools, called on request.

One MCP session per chat request (Streamable HTTP at ``config.mcp_url``, mcp-server's ``/mcp``): the
tool list is fresh for every chat and no session state outlives a request. The HTTP client under
the sessions is one per process (``mcp_http_client``): a new one per chat built a TLS context each
time, half of this service's CPU per chat, and opened a new connection. The mcp SDK puts
the current trace context into each request's ``_meta`` itself, and the telemetry kit's httpx2
instrumentation puts it into the HTTP headers, so both mcp-server's HTTP and MCP spans join the
chat's trace.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from airscope.services.llm_orchestrator import metrics
from airscope.services.llm_orchestrator.fit import Fitted, fit
from airscope.telemetry import get_logger

log = get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
CALL_TIMEOUT_SECONDS = 30.0
# A tool answer goes into every later prompt of the chat; a large one is fitted (by whole items, see
# fit.py) to bound the tokens: about 5,000.
MAX_RESULT_CHARS = 20_000
MAX_LIST_PAGES = 10
# What OpenAI (and compatible providers) accept as a function name.
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def openai_tool(tool: mcp_types.Tool) -> dict | None:
    """An MCP tool as an OpenAI function tool; None when its name is not a valid function name."""
    if not FUNCTION_NAME.match(tool.name):
        return None
    parameters = {
        key: value for key, value in _without_titles(tool.input_schema or {}).items() if key != "$schema"
    }
    parameters.setdefault("type", "object")
    if parameters["type"] == "object":
        parameters.setdefault("properties", {})
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description or tool.title or tool.name,
            "parameters": parameters,
        },
    }


def _without_titles(schema: Any) -> Any:
    """A JSON schema without pydantic's ``title``s, which repeat each name and cost tokens per call."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            # Keys here are names (a property may be called "title"); their values are schemas.
            cleaned[key] = {name: _without_titles(item) for name, item in value.items()}
        else:
            cleaned[key] = _without_titles(value)
    return cleaned


def result_text(result: mcp_types.CallToolResult) -> Fitted:
    """What the model reads of a tool result, within ``MAX_RESULT_CHARS`` and still valid JSON: the
    structured content (else the text, when it is JSON) fitted by whole items; other text is cut."""
    text = "\n".join(block.text for block in result.content if isinstance(block, mcp_types.TextContent))
    data = result.structured_content
    if data is None and not result.is_error:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if data is not None and not result.is_error:
        return fit(data, MAX_RESULT_CHARS)
    if len(text) <= MAX_RESULT_CHARS:
        return Fitted(text, cut=False)
    return Fitted(
        text[:MAX_RESULT_CHARS] + f" [cut: {len(text) - MAX_RESULT_CHARS} more characters]", cut=True
    )


@dataclass(frozen=True)
class ToolOutcome:
    tool: str
    ok: bool
    text: str


@dataclass
class Toolbox:
    """The tools of one chat request; without a client (mcp-server unreachable) it offers none."""

    client: Client | None
    tools: Sequence[mcp_types.Tool] = ()
    openai_tools: list[dict] = field(init=False)
    names: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.openai_tools = [t for t in (openai_tool(tool) for tool in self.tools) if t is not None]
        self.names = {t["function"]["name"] for t in self.openai_tools}

    @property
    def available(self) -> bool:
        return self.client is not None

    async def call(self, name: str, arguments_json: str) -> ToolOutcome:
        """Runs the tool the model asked for; every failure comes back as text for the model."""
        if name not in self.names or self.client is None:
            return self._failed(
                metrics.OTHER_TOOL, name, f"unknown tool {name!r}; use one of the listed tools"
            )
        try:
            arguments = json.loads(arguments_json or "{}")
        except ValueError as exc:
            return self._failed(name, name, f"the arguments are not valid JSON: {exc}")
        if not isinstance(arguments, dict):
            return self._failed(name, name, "the arguments must be a JSON object")
        try:
            result = await self.client.call_tool(name, arguments, read_timeout_seconds=CALL_TIMEOUT_SECONDS)
        except Exception as exc:  # the connection, the protocol or the server: the model hears why
            log.warning("tool call failed", tool=name, error=type(exc).__name__, reason=str(exc)[:300])
            return self._failed(name, name, f"the tool could not be called: {exc or type(exc).__name__}")
        fitted = result_text(result)
        if fitted.cut:
            metrics.LLM_TOOL_RESULTS_TRUNCATED.labels(name).inc()
        outcome = "error" if result.is_error else "ok"
        metrics.LLM_TOOL_CALLS.labels(name, outcome).inc()
        return ToolOutcome(name, not result.is_error, fitted.text)

    @staticmethod
    def _failed(label: str, name: str, message: str) -> ToolOutcome:
        metrics.LLM_TOOL_CALLS.labels(label, "error").inc()
        return ToolOutcome(name, False, f"error: {message}")


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def mcp_http_client() -> httpx2.AsyncClient:
    """The HTTP client every chat's MCP session shares; the caller closes it at shutdown."""
    return httpx2.AsyncClient(timeout=httpx2.Timeout(CALL_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS))


@asynccontextmanager
async def open_toolbox(url: str, http: httpx2.AsyncClient) -> AsyncIterator[Toolbox]:
    """mcp-server's tools for one chat over ``http`` (left open); an empty toolbox when mcp-server
    cannot be reached, so the chat still answers (without Airtable data, which the system prompt
    then tells the model)."""
    stack = AsyncExitStack()
    try:
        client = await stack.enter_async_context(
            Client(streamable_http_client(url, http_client=http), read_timeout_seconds=CALL_TIMEOUT_SECONDS)
        )
        toolbox = Toolbox(client, await _list_tools(client))
    except Exception as exc:  # unreachable, or not speaking MCP: chat on without tools
        log.warning("mcp-server unavailable, chatting without tools", url=url, error=_cause(exc))
        await _close(stack)
        toolbox = Toolbox(None)
    try:
        yield toolbox
    finally:
        await _close(stack)


def _cause(exc: BaseException) -> str:
    # The SDK's task groups wrap the transport's error (connection refused...) in ExceptionGroups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]


async def _close(stack: AsyncExitStack) -> None:
    # A session whose server went away mid-chat may fail to close; the chat's answer stands.
    try:
        await stack.aclose()
    except Exception as exc:
        log.warning("closing the mcp session failed", error=type(exc).__name__)
