"""MCP tool schemas as OpenAI function tools, what the model reads of a tool result, and the one MCP
session every chat of a process shares (against an in-process MCP server over HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx2
import mcp_types
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from prometheus_client import REGISTRY

from airscope.services.llm_orchestrator import tools
from airscope.services.llm_orchestrator.fit import Fitted


def _tool(name: str, schema: dict, description: str | None = "Lists the tables of a base.") -> mcp_types.Tool:
    return mcp_types.Tool(name=name, description=description, input_schema=schema)


def test_mcp_tool_becomes_a_function_tool() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": "list_tablesArguments",
        "properties": {
            "base_id": {"type": "string", "title": "Base Id"},
            # A property may be called "title": only schema titles go.
            "title": {"type": "string", "title": "Title"},
        },
        "required": ["base_id"],
    }
    assert tools.openai_tool(_tool("list_tables", schema)) == {
        "type": "function",
        "function": {
            "name": "list_tables",
            "description": "Lists the tables of a base.",
            "parameters": {
                "type": "object",
                "properties": {"base_id": {"type": "string"}, "title": {"type": "string"}},
                "required": ["base_id"],
            },
        },
    }


def test_schema_without_type_or_properties_becomes_an_empty_object() -> None:
    function = tools.openai_tool(_tool("list_bases", {}, description=None))["function"]
    assert function["parameters"] == {"type": "object", "properties": {}}
    assert function["description"] == "list_bases"


def test_tool_whose_name_no_provider_accepts_is_left_out() -> None:
    assert tools.openai_tool(_tool("list tables!", {"type": "object"})) is None
    toolbox = tools.Toolbox(None, [_tool("list tables!", {}), _tool("list_bases", {})])
    assert toolbox.names == {"list_bases"}


def test_result_text_reads_structured_content_as_compact_json_and_keeps_other_text() -> None:
    text = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text='{"a": 1}'), mcp_types.TextContent(text="more")]
    )
    assert tools.result_text(text) == Fitted('{"a": 1}\nmore', cut=False)
    structured = mcp_types.CallToolResult(content=[], structured_content={"tables": ["Customers"]})
    assert tools.result_text(structured) == Fitted('{"tables":["Customers"]}', cut=False)
    indented = mcp_types.CallToolResult(content=[mcp_types.TextContent(text='{\n  "count": 3\n}')])
    assert tools.result_text(indented) == Fitted('{"count":3}', cut=False)


def test_long_json_result_loses_whole_items_and_stays_valid_json() -> None:
    records = [{"id": f"rec{n:014d}", "fields": {"Name": f"Customer {n}"}} for n in range(2_000)]
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text="(indented)")],
        structured_content={"records": records, "more": True},
    )
    fitted = tools.result_text(result)
    data = json.loads(fitted.text)
    assert fitted.cut and len(fitted.text) <= tools.MAX_RESULT_CHARS
    assert data["records"] == records[: len(data["records"])]
    assert data["omitted"] == {"records": 2_000 - len(data["records"])}


def test_long_plain_text_or_error_is_cut_with_a_marker() -> None:
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text="x" * (tools.MAX_RESULT_CHARS + 7))], is_error=True
    )
    fitted = tools.result_text(result)
    assert fitted.cut and fitted.text.startswith("x" * tools.MAX_RESULT_CHARS)
    assert fitted.text.endswith("[cut: 7 more characters]")


class _Client:
    """The MCP client's edge: answers every call with one result."""

    def __init__(self, result: mcp_types.CallToolResult) -> None:
        self.result = result

    async def call_tool(
        self, name: str, arguments: dict, read_timeout_seconds: float
    ) -> mcp_types.CallToolResult:
        return self.result


@pytest.mark.anyio
async def test_a_result_cut_to_fit_is_counted_by_tool_and_the_call_is_ok() -> None:
    labels = {"tool": "search_records"}
    before = REGISTRY.get_sample_value("llm_tool_results_truncated_total", labels) or 0
    big = mcp_types.CallToolResult(
        content=[], structured_content={"records": [{"fields": {"Notes": "n" * 900}} for _ in range(50)]}
    )
    toolbox = tools.Toolbox(_Client(big), [_tool("search_records", {})])  # type: ignore[arg-type]
    outcome = await toolbox.call("search_records", "{}")
    small = await tools.Toolbox(  # type: ignore[arg-type]
        _Client(mcp_types.CallToolResult(content=[], structured_content={"count": 3})),
        [_tool("search_records", {})],
    ).call("search_records", "{}")

    assert outcome.ok and json.loads(outcome.text)["omitted"]["records"] > 0
    assert small.ok and small.text == '{"count":3}'
    assert REGISTRY.get_sample_value("llm_tool_results_truncated_total", labels) == before + 1


@pytest.mark.anyio
async def test_unknown_tool_goes_back_to_the_model_as_an_error_counted_as_other() -> None:
    labels = {"tool": "other", "outcome": "error"}
    before = REGISTRY.get_sample_value("llm_tool_calls_total", labels) or 0
    toolbox = tools.Toolbox(None, [_tool("list_bases", {})])
    outcome = await toolbox.call("drop_everything", "{}")
    assert (outcome.tool, outcome.ok) == ("drop_everything", False)
    assert "unknown tool 'drop_everything'" in outcome.text
    assert REGISTRY.get_sample_value("llm_tool_calls_total", labels) == before + 1


@dataclass
class Server:
    """An MCP server (stateless, as mcp-server) behind an HTTP transport that counts the MCP
    methods it serves and can fail the next requests as a restart does."""

    app: object
    methods: list[str] = field(default_factory=list)
    refuse: int = 0  # the next requests find nothing listening (connection refused)
    cut: int = 0  # the next requests lose their connection after reaching the server
    created: list[dict] = field(default_factory=list)

    def http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=_Transport(self), base_url="http://mcp.test")


class _Transport(httpx2.AsyncBaseTransport):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.asgi = httpx2.ASGITransport(server.app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.server.refuse:
            self.server.refuse -= 1
            raise httpx2.ConnectError("connection refused", request=request)
        self.server.methods.append(json.loads(request.content)["method"])
        response = await self.asgi.handle_async_request(request)
        if self.server.cut:
            self.server.cut -= 1
            raise httpx2.ReadError("connection closed while reading the answer", request=request)
        return response


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    mcp = MCPServer("test")
    created: list[dict] = []

    def list_bases() -> dict:
        return {"bases": [{"id": "app1", "name": "Demo"}]}

    def create_record(name: str) -> dict:
        created.append({"name": name})
        return {"id": f"rec{len(created)}"}

    mcp.add_tool(list_bases, annotations=mcp_types.ToolAnnotations(read_only_hint=True))
    mcp.add_tool(create_record, annotations=mcp_types.ToolAnnotations(read_only_hint=False))
    app = mcp.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    async with mcp.session_manager.run():
        yield Server(app, created=created)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def mcp_tools(server: Server) -> AsyncIterator[tuple[tools.McpTools, Clock]]:
    clock = Clock()
    async with server.http() as http:
        mcp_tools = tools.McpTools("http://mcp.test/mcp", http, clock=clock)
        yield mcp_tools, clock
        await mcp_tools.aclose()


@pytest.mark.anyio
async def test_chats_share_one_session_and_its_tool_list(server: Server, mcp_tools) -> None:
    mcp, _ = mcp_tools

    async def chat() -> tools.ToolOutcome:
        toolbox = await mcp.toolbox()
        return await toolbox.call("list_bases", "{}")

    outcomes = await asyncio.gather(*(chat() for _ in range(8)))
    assert all(outcome.ok for outcome in outcomes)
    assert json.loads(outcomes[0].text)["bases"][0]["id"] == "app1"
    # One session opened (discovery), one listing, then only the calls: concurrent on the one session.
    assert server.methods.count("server/discover") == 1
    assert server.methods.count("tools/list") == 1
    assert server.methods.count("tools/call") == 8


@pytest.mark.anyio
async def test_tool_list_is_listed_again_once_old(server: Server, mcp_tools) -> None:
    mcp, clock = mcp_tools
    assert (await mcp.toolbox()).names == {"list_bases", "create_record"}
    clock.now += tools.TOOLS_MAX_AGE_SECONDS - 1
    await mcp.toolbox()
    assert server.methods.count("tools/list") == 1
    clock.now += 2
    await mcp.toolbox()
    assert server.methods.count("tools/list") == 2
    assert server.methods.count("server/discover") == 1  # the same session


@pytest.mark.anyio
async def test_a_call_the_restart_refused_is_made_again_on_a_new_session(server: Server, mcp_tools) -> None:
    mcp, _ = mcp_tools
    toolbox = await mcp.toolbox()
    server.refuse = 1  # mcp-server restarting: the call finds nothing listening, and breaks the session
    outcome = await toolbox.call("create_record", '{"name": "Ada"}')
    assert outcome.ok, outcome.text
    # Refused, so never applied: made once more, on a new session with a fresh tool list.
    assert server.created == [{"name": "Ada"}]
    assert server.methods.count("server/discover") == 2
    assert server.methods.count("tools/list") == 2
    assert (await (await mcp.toolbox()).call("list_bases", "{}")).ok
    assert server.methods.count("server/discover") == 2


@pytest.mark.anyio
async def test_a_change_that_may_have_been_applied_is_not_made_twice(server: Server, mcp_tools) -> None:
    mcp, _ = mcp_tools
    toolbox = await mcp.toolbox()
    server.cut = 1  # the request reached the server; its answer was lost with the connection
    outcome = await toolbox.call("create_record", '{"name": "Ada"}')
    assert not outcome.ok and outcome.text.startswith("error: the tool could not be called")
    assert server.created == [{"name": "Ada"}]
    # A read is safe to repeat: made again on a new session.
    toolbox = await mcp.toolbox()  # a new session: the last one broke
    server.cut = 1
    assert (await toolbox.call("list_bases", "{}")).ok
    assert server.methods.count("server/discover") == 3


@pytest.mark.anyio
async def test_without_mcp_server_chats_go_on_without_tools_and_tools_come_back(
    server: Server, mcp_tools
) -> None:
    mcp, clock = mcp_tools
    server.refuse = 1
    assert not (await mcp.toolbox()).available
    # Until the next attempt, chats do not pay a connect attempt each.
    assert not (await mcp.toolbox()).available
    assert server.refuse == 0 and server.methods == []
    clock.now += tools.REOPEN_AFTER_SECONDS
    toolbox = await mcp.toolbox()
    assert toolbox.available and (await toolbox.call("list_bases", "{}")).ok


@pytest.mark.anyio
async def test_unreachable_mcp_server_leaves_the_shared_http_client_open() -> None:
    # Port 9 (discard) is closed here: the session fails, the chat goes on without tools, and the
    # process-wide client must still serve the next chat.
    async with tools.mcp_http_client() as http:
        mcp = tools.McpTools("http://127.0.0.1:9/mcp", http)
        assert not (await mcp.toolbox()).available
        await mcp.aclose()
        assert not http.is_closed
