"""mcp-server's tools for the model: listed over MCP, offered as OpenAI function tools, called on request.

One MCP session per process (``McpTools``), opened at the first chat and shared by every chat: a
session per chat cost a ``server/discover`` and a ``tools/list`` round trip each, two thirds of
mcp-server's requests. The SDK's client multiplexes concurrent requests over one session (each
request its own POST, answered by id), so chats share it without a lock. The tool list is cached
with the session (see ``McpTools``). When the session breaks (mcp-server restarted or unreachable:
the transport fails, and with it every request in flight on it) the next chat opens a new one,
and a call that failed with it is made once more on the new session when that cannot apply a
change twice. Without mcp-server a chat still answers, without tools.

Spans: one per MCP request, the SDK's ``MCP send <method>`` (it names the tool); the HTTP client
span under it said nothing more about the same hop, so its requests go without one
(``suppress_http_instrumentation``) and carry the trace context in their headers themselves
(``_propagate``): mcp-server's HTTP and MCP spans still join the chat's trace (the SDK also puts
the context into each request's ``_meta``).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2
import mcp_types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from opentelemetry import propagate
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from airscope.services.llm_orchestrator import keepalive, metrics
from airscope.services.llm_orchestrator.fit import Fitted, fit
from airscope.telemetry import current_request_id, get_logger

log = get_logger(__name__)

CALL_TIMEOUT_SECONDS = 30.0
# The HTTP read timeout outlasts the MCP one: a request timing out at the MCP level leaves the
# session usable, while an HTTP timeout fails the transport and every request in flight on it.
HTTP_TIMEOUT_SECONDS = CALL_TIMEOUT_SECONDS + 5.0
# Chats share one session, so its requests in flight are the chats calling a tool at once.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 50
# A listed tool set older than this is listed again (see McpTools).
TOOLS_MAX_AGE_SECONDS = 60.0
# After a failed attempt to open a session, chats go on without tools this long before the
# next attempt: with mcp-server down, not every chat pays a connect attempt.
REOPEN_AFTER_SECONDS = 1.0
# How long a call that failed with its session waits for the session to finish breaking.
BROKEN_SESSION_WAIT_SECONDS = 1.0
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


class ToolCaller(Protocol):
    async def call_tool(
        self, name: str, arguments: dict[str, Any], read_timeout_seconds: float
    ) -> mcp_types.CallToolResult: ...


@dataclass
class Toolbox:
    """The tools a chat offers the model; without a client (mcp-server unreachable) none."""

    client: ToolCaller | None
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


async def _propagate(request: httpx2.Request) -> None:
    """What the kit's HTTP client instrumentation would add, for requests made without its span."""
    propagate.inject(request.headers)
    request_id = current_request_id()
    if request_id and "x-request-id" not in request.headers:
        request.headers["x-request-id"] = request_id


def mcp_http_client() -> httpx2.AsyncClient:
    """The HTTP client under the MCP sessions, with the platform's keep-alive policy; the caller
    closes it at shutdown."""
    return httpx2.AsyncClient(
        timeout=keepalive.timeout(HTTP_TIMEOUT_SECONDS),
        limits=keepalive.limits(MAX_CONNECTIONS, MAX_KEEPALIVE_CONNECTIONS),
        event_hooks={"request": [_propagate]},
    )


class _Session:
    """One open MCP session, held by a task of its own: the SDK's client runs anyio task groups,
    which must be entered and left by one task, and a chat's task ends with its request. The
    task ends when the session breaks (the transport's failure ends it) or is closed."""

    def __init__(self, url: str, http: httpx2.AsyncClient) -> None:
        self.url = url
        self.http = http
        self.opened: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        self.closing = asyncio.Event()
        self.failure: BaseException | None = None
        self.holder = asyncio.create_task(self._hold(), name="mcp-session")

    async def _hold(self) -> None:
        client = Client(
            streamable_http_client(self.url, http_client=self.http), read_timeout_seconds=CALL_TIMEOUT_SECONDS
        )
        try:
            async with client:
                self.opened.set_result(client)
                await self.closing.wait()
        except Exception as exc:
            self.failure = exc
            if not self.opened.done():
                self.opened.set_exception(exc)
            else:
                # Logged outside the context this task inherited from the chat that opened the
                # session, maybe long ago: the line is about the process, not that chat.
                contextvars.Context().run(log.warning, "mcp session broke", error=_cause(exc))

    @property
    def alive(self) -> bool:
        return not self.holder.done() and not self.closing.is_set()

    async def close(self) -> None:
        self.closing.set()
        await asyncio.wait([self.holder])


@dataclass
class _Listed:
    session: _Session
    toolbox: Toolbox
    at: float


class McpTools:
    """mcp-server's tools for every chat of this process, over one MCP session.

    The tool list is cached with the session and listed again with each new session and when
    older than ``TOOLS_MAX_AGE_SECONDS``. mcp-server registers its tools in code, so they change
    only when it is restarted (a new version); a restart that broke the session re-lists at once,
    and one that did not (mcp-server is stateless, so a session outlives a restart no request
    noticed) shows within a minute. A stale list costs no more than the model hearing "unknown
    tool" for a tool that went.
    """

    def __init__(
        self, url: str, http: httpx2.AsyncClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self.http = http
        self.clock = clock
        self._listed: _Listed | None = None
        self._listing: asyncio.Task[_Listed] | None = None
        self._failed_at: float | None = None
        self._sessions: set[_Session] = set()

    async def toolbox(self) -> Toolbox:
        """The tools for one chat: the cached list, else a new listing (on a new session if the
        last one broke); an empty toolbox when mcp-server cannot be reached, so the chat still
        answers (without Airtable data, which the system prompt then tells the model)."""
        listed = self._listed
        if listed is not None and listed.session.alive and self.clock() - listed.at < TOOLS_MAX_AGE_SECONDS:
            return listed.toolbox
        if self._failed_at is not None and self.clock() - self._failed_at < REOPEN_AFTER_SECONDS:
            return Toolbox(None)
        try:
            return (await self._list()).toolbox
        except Exception as exc:  # unreachable, or not speaking MCP: chat on without tools
            log.warning("mcp-server unavailable, chatting without tools", url=self.url, error=_cause(exc))
            return Toolbox(None)

    async def _list(self) -> _Listed:
        # One listing at a time, shared by the chats that wait for it; shielded, so a chat that
        # goes away does not cancel what the others wait for.
        if self._listing is None or self._listing.done():
            self._listing = asyncio.create_task(self._list_on_a_session())
        return await asyncio.shield(self._listing)

    async def _list_on_a_session(self) -> _Listed:
        try:
            session = await self._session()
            try:
                with suppress_http_instrumentation():
                    tools = await _list_tools(await session.opened)
            except Exception:
                await self._close(session)  # the next listing starts on a new session
                raise
        except Exception:
            self._failed_at = self.clock()
            raise
        self._failed_at = None
        self._listed = _Listed(session, Toolbox(self, tools), self.clock())
        return self._listed

    async def _session(self) -> _Session:
        """The open session, else a new one (the broken one closed)."""
        listed = self._listed
        if listed is not None and listed.session.alive:
            return listed.session
        if listed is not None:
            await self._close(listed.session)
        with suppress_http_instrumentation():
            session = _Session(self.url, self.http)
        self._sessions.add(session)
        try:
            await session.opened
        except Exception:
            await self._close(session)
            raise
        return session

    async def call_tool(
        self, name: str, arguments: dict[str, Any], read_timeout_seconds: float
    ) -> mcp_types.CallToolResult:
        """Calls the tool on the current session; if that session broke under the call, once more
        on a new one, unless the call may have reached mcp-server and the tool changes data."""
        listed = self._listed
        if listed is None or not listed.session.alive:
            listed = await self._list()
        session = listed.session
        try:
            with suppress_http_instrumentation():
                return await (await session.opened).call_tool(
                    name, arguments, read_timeout_seconds=read_timeout_seconds
                )
        except Exception as exc:
            if not await _broke(session, exc) or not (_not_sent(session, exc) or _read_only(listed, name)):
                raise
        log.info("mcp session broke under a tool call; calling on a new session", tool=name)
        listed = await self._list()
        with suppress_http_instrumentation():
            return await (await listed.session.opened).call_tool(
                name, arguments, read_timeout_seconds=read_timeout_seconds
            )

    async def _close(self, session: _Session) -> None:
        self._sessions.discard(session)
        try:
            await session.close()
        except Exception as exc:  # a session whose server went away may fail to close
            log.warning("closing the mcp session failed", error=type(exc).__name__)

    async def aclose(self) -> None:
        if self._listing is not None:
            self._listing.cancel()
        for session in list(self._sessions):
            await self._close(session)


def _session_terminated(exc: BaseException) -> bool:
    # A server that keeps sessions answers 404 to an id it no longer knows (it restarted); the
    # transport reports it so. mcp-server is stateless, but a deployment may not be.
    return (
        isinstance(exc, MCPError)
        and exc.error.code == mcp_types.INVALID_REQUEST
        and (exc.error.message == "Session terminated")
    )


async def _broke(session: _Session, exc: BaseException) -> bool:
    """Whether ``exc`` came from the session breaking, not from mcp-server answering an error."""
    if _session_terminated(exc):
        session.closing.set()
        return True
    if isinstance(exc, MCPError) and exc.error.code != mcp_types.CONNECTION_CLOSED:
        return False  # the server's answer, or the MCP read timeout: the session is fine
    await asyncio.wait([session.holder], timeout=BROKEN_SESSION_WAIT_SECONDS)
    return session.holder.done()


def _not_sent(session: _Session, exc: BaseException) -> bool:
    """The request never reached mcp-server: refused by it, or the connection was never made."""
    return _session_terminated(exc) or (
        session.failure is not None
        and all(isinstance(e, httpx2.ConnectError) for e in _leaves(session.failure))
    )


def _read_only(listed: _Listed, name: str) -> bool:
    tool = next((t for t in listed.toolbox.tools if t.name == name), None)
    return tool is not None and tool.annotations is not None and bool(tool.annotations.read_only_hint)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _cause(exc: BaseException) -> str:
    # The SDK's task groups wrap the transport's error (connection refused...) in ExceptionGroups.
    leaf = _leaves(exc)[0]
    return f"{type(leaf).__name__}: {leaf}"[:300]
