"""MCP tool schemas as OpenAI function tools, and what the model reads of a tool result."""

from __future__ import annotations

import mcp_types
import pytest
from prometheus_client import REGISTRY

from airscope.services.llm_orchestrator import tools


def _tool(name: str, schema: dict, description: str | None = "Lists the tables of a base.") -> mcp_types.Tool:
    return mcp_types.Tool(name=name, description=description, input_schema=schema)


def test_mcp_tool_becomes_a_function_tool() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"base_id": {"type": "string", "title": "Base Id"}},
        "required": ["base_id"],
    }
    assert tools.openai_tool(_tool("list_tables", schema)) == {
        "type": "function",
        "function": {
            "name": "list_tables",
            "description": "Lists the tables of a base.",
            "parameters": {
                "type": "object",
                "properties": {"base_id": {"type": "string", "title": "Base Id"}},
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


def test_result_text_joins_text_blocks_and_falls_back_to_structured_content() -> None:
    text = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text='{"a": 1}'), mcp_types.TextContent(text="more")]
    )
    assert tools.result_text(text) == '{"a": 1}\nmore'
    structured = mcp_types.CallToolResult(content=[], structured_content={"tables": ["Customers"]})
    assert tools.result_text(structured) == '{"tables": ["Customers"]}'


def test_long_result_is_cut() -> None:
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text="x" * (tools.MAX_RESULT_CHARS + 7))]
    )
    text = tools.result_text(result)
    assert text.startswith("x" * tools.MAX_RESULT_CHARS)
    assert text.endswith("[cut: 7 more characters]")


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
