"""MCP tool schemas as OpenAI function tools, and what the model reads of a tool result."""

from __future__ import annotations

import json

import mcp_types
import pytest
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


@pytest.mark.anyio
async def test_toolbox_leaves_the_shared_http_client_open_for_the_next_chat() -> None:
    # Port 9 (discard) is closed here: the session fails, the chat goes on without tools, and the
    # process-wide client must still serve the next chat.
    async with tools.mcp_http_client() as http:
        async with tools.open_toolbox("http://127.0.0.1:9/mcp", http) as toolbox:
            assert not toolbox.available
        assert not http.is_closed
