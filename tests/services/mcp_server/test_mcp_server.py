"""mcp-server end to end: the SDK's own client against mcp-server, the real airtable-gateway
(with Redis) and the Airtable stand-in, each a uvicorn subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from airscope.local.traces import Span, read_spans
from tests.servers import Apps, AppServer, movement, scrape, start_airtable_standin, value
from tests.support import wait_until

pytestmark = [pytest.mark.infra, pytest.mark.anyio]

BASE = "appAirscopeDemo01"
TOOLS = {
    "list_bases",
    "list_tables",
    "search_records",
    "get_record",
    "create_record",
    "update_record",
    "delete_record",
    "count_records",
    "aggregate_field",
}
SERVER, CLIENT = 2, 3  # OTLP span kinds


@dataclass
class Stack:
    mcp: AppServer
    gateway: AppServer
    trace_dir: Path

    @property
    def endpoint(self) -> str:
        return self.mcp.url + "/mcp"


@pytest.fixture(scope="module")
def stack(module_apps: Apps, redis_server) -> Stack:
    trace_dir = module_apps.directory / "traces"
    # Spans leave within 100 ms instead of the SDK's 5 s, so the trace test need not wait long.
    fast_export = {"AIRSCOPE_TRACE_DIR": str(trace_dir), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    # A Redis database of its own: the gateway caches reads there, and another test module's
    # stand-in holds other data under the same base id.
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/5"
    # No rate limit: the paging test creates tables faster than Airtable's 5 requests/s.
    airtable = start_airtable_standin(module_apps, STANDIN_AIRTABLE_RATE_LIMIT="0")
    gateway = module_apps.start(
        "airscope.services.airtable_gateway",
        {"AIRTABLE_API_URL": airtable.url, "AIRTABLE_API_KEY": "test", "REDIS_URL": redis_url, **fast_export},
    )
    mcp = module_apps.start(
        "airscope.services.mcp_server", {"AIRSCOPE_URL_AIRTABLE_GATEWAY": gateway.url, **fast_export}
    )
    return Stack(mcp=mcp, gateway=gateway, trace_dir=trace_dir)


def payload(result: CallToolResult) -> dict:
    assert not result.is_error, result.content
    data = json.loads(result.content[0].text)
    assert result.structured_content == data
    return data


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return result.content[0].text


async def test_lists_every_tool_with_its_input_schema(stack: Stack) -> None:
    async with Client(stack.endpoint) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == TOOLS
    assert all(tool.description for tool in tools.values())
    search = tools["search_records"].input_schema
    assert search["required"] == ["base_id", "table"]
    assert search["properties"]["max_records"]["default"] == 20
    assert tools["aggregate_field"].input_schema["properties"]["op"]["enum"] == ["sum", "avg", "min", "max"]
    assert tools["create_record"].input_schema["properties"]["fields"]["type"] == "object"


async def test_reads_bases_tables_and_counts(stack: Stack) -> None:
    async with Client(stack.endpoint) as client:
        bases = payload(await client.call_tool("list_bases", {}))
        tables = payload(await client.call_tool("list_tables", {"base_id": BASE}))
        gold = payload(
            await client.call_tool(
                "count_records", {"base_id": BASE, "table": "Customers", "field": "Tier", "value": "Gold"}
            )
        )
        orders = payload(await client.call_tool("count_records", {"base_id": BASE, "table": "Orders"}))
        top_price = payload(
            await client.call_tool(
                "aggregate_field", {"base_id": BASE, "table": "Products", "field": "Price", "op": "max"}
            )
        )

    assert bases["bases"][0] == {"id": BASE, "name": "Airscope Demo"}
    assert [t["name"] for t in tables["tables"]][:3] == ["Customers", "Orders", "Products"]
    customers = tables["tables"][0]
    # What a model needs of the schema, and nothing else (no field ids, no options).
    assert set(customers) == {"id", "name", "primary_field", "fields"}
    assert customers["primary_field"] == "Name"
    assert customers["fields"] == {
        "Name": "singleLineText",
        "Email": "email",
        "City": "singleLineText",
        "Tier": "singleSelect",
        "Customer Since": "date",
    }
    # A page of at most 20; other tests may have grown the base beyond one page.
    assert tables["total"] >= len(tables["tables"])
    assert ("next_offset" in tables) == (tables["total"] > len(tables["tables"]))
    assert tables["base"] == {"id": BASE, "name": "Airscope Demo"}
    assert gold == {"table": "Customers", "count": 8, "capped": False}
    assert orders["count"] == 30
    assert top_price["value"] == 800.0 and top_price["values"] == 12


async def test_search_keeps_quotes_inside_the_query(stack: Stack) -> None:
    async with Client(stack.endpoint) as client:
        created = payload(
            await client.call_tool(
                "create_record",
                {"base_id": BASE, "table": "Customers", "fields": {"Name": 'Dwayne "The Rock" Johnson'}},
            )
        )
        try:
            quoted = payload(
                await client.call_tool(
                    "search_records", {"base_id": BASE, "table": "Customers", "query": '"the rock"'}
                )
            )
            by_field = payload(
                await client.call_tool(
                    "search_records",
                    {"base_id": BASE, "table": "Customers", "query": "lond", "field": "City"},
                )
            )
            attack = payload(
                await client.call_tool(
                    "search_records", {"base_id": BASE, "table": "Customers", "query": 'x") , TRUE(), ("'}
                )
            )
        finally:
            await client.call_tool(
                "delete_record", {"base_id": BASE, "table": "Customers", "record_id": created["id"]}
            )

    assert [r["id"] for r in quoted["records"]] == [created["id"]] and quoted["more"] is False
    assert sorted(r["fields"]["Name"] for r in by_field["records"]) == ["Ada Lovelace", "Tim Berners-Lee"]
    # Had the quote closed the string, TRUE() would have matched every customer.
    assert attack["records"] == []


async def test_create_update_get_delete_roundtrip(stack: Stack) -> None:
    where = {"base_id": BASE, "table": "Customers"}
    async with Client(stack.endpoint) as client:
        created = payload(
            await client.call_tool(
                "create_record", {**where, "fields": {"Name": "Mary Jackson", "City": "Hampton"}}
            )
        )
        record = {**where, "record_id": created["id"]}
        updated = payload(await client.call_tool("update_record", {**record, "fields": {"Tier": "Gold"}}))
        fetched = payload(await client.call_tool("get_record", record))
        deleted = payload(await client.call_tool("delete_record", record))
        gone = error_text(await client.call_tool("get_record", record))

    assert created["id"].startswith("rec") and created["fields"]["Name"] == "Mary Jackson"
    assert updated["fields"] == {"Name": "Mary Jackson", "City": "Hampton", "Tier": "Gold"}
    assert fetched["id"] == created["id"] and fetched["fields"] == updated["fields"]
    assert deleted == {"id": created["id"], "deleted": True}
    assert "not_found" in gone


async def test_failing_call_is_a_tool_error_and_the_session_goes_on(stack: Stack) -> None:
    before = scrape(stack.mcp.url)
    # The session llm-orchestrator holds: the initialize handshake over the streamable HTTP client.
    async with (
        streamable_http_client(stack.endpoint) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        unknown = await session.call_tool("search_records", {"base_id": BASE, "table": "Nope", "query": "a"})
        bad_field = await session.call_tool(
            "count_records", {"base_id": BASE, "table": "Orders", "field": "Status}", "value": "x"}
        )
        after_errors = payload(await session.call_tool("list_tables", {"base_id": BASE}))
    after = scrape(stack.mcp.url)

    assert "table 'Nope' not found in base appAirscopeDemo01" in error_text(unknown)
    assert "Customers, Orders, Products" in error_text(unknown)
    assert "cannot reference" in error_text(bad_field)
    # The session still answers; other tests may have grown the base beyond its seeded tables.
    assert {"Customers", "Orders", "Products"} <= {table["name"] for table in after_errors["tables"]}

    moved = movement(before, after)
    assert moved("mcp_tool_calls_total", tool="search_records", outcome="error") == 1
    assert moved("mcp_tool_calls_total", tool="count_records", outcome="error") == 1
    assert moved("mcp_tool_calls_total", tool="list_tables", outcome="ok") == 1
    assert moved("mcp_tool_duration_seconds_count", tool="list_tables") == 1
    assert value(after, "mcp_active_sessions") == 0  # the session ended with its last request
    assert moved("http_server_request_duration_seconds_count", route="/mcp", status="200") >= 4


async def test_unknown_tool_is_counted_as_other(stack: Stack) -> None:
    before = scrape(stack.mcp.url)
    async with Client(stack.endpoint) as client:
        result = await client.call_tool("drop_all_tables", {})
    after = scrape(stack.mcp.url)

    assert result.is_error
    assert movement(before, after)("mcp_tool_calls_total", tool="other", outcome="error") == 1
    assert not any(dict(labels).get("tool") == "drop_all_tables" for _, labels in after)


@contextmanager
def caller_span(trace_id: int, span_id: int) -> Iterator[None]:
    """Makes the test the caller: its span is the parent the client injects into ``_meta``."""
    parent = NonRecordingSpan(
        SpanContext(trace_id=trace_id, span_id=span_id, is_remote=False, trace_flags=TraceFlags.SAMPLED)
    )
    token = context.attach(trace.set_span_in_context(parent))
    try:
        yield
    finally:
        context.detach(token)


async def test_tool_call_continues_the_callers_trace_into_airtable_gateway(stack: Stack) -> None:
    trace_id, span_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7
    async with Client(stack.endpoint) as client:
        with caller_span(trace_id, span_id):
            # One gateway request: list_tables and the record tools read the table list too.
            payload(await client.call_tool("list_bases", {}))

    wanted = format(trace_id, "032x")

    def both_sides() -> list[Span]:
        # Each process exports on its own schedule, and the tool call's span ends only after
        # its answer has been sent: wait for both sides, not only the first to arrive.
        spans = [s for s in read_spans(stack.trace_dir) if s.trace_id == wanted]
        assert any(s.service == "airtable-gateway" and s.kind == SERVER for s in spans), spans
        assert any(s.service == "mcp-server" and s.name == "tools/call list_bases" for s in spans), spans
        return spans

    spans = wait_until(both_sides, message=f"the spans of trace {wanted} from both services")
    (tool_call,) = [s for s in spans if s.service == "mcp-server" and s.name == "tools/call list_bases"]
    assert tool_call.kind == SERVER
    assert tool_call.parent_span_id == format(span_id, "016x")
    (to_gateway,) = [s for s in spans if s.service == "mcp-server" and s.kind == CLIENT]
    assert to_gateway.parent_span_id == tool_call.span_id
    (gateway_server,) = [s for s in spans if s.service == "airtable-gateway" and s.kind == SERVER]
    assert gateway_server.name == "GET /bases"
    assert gateway_server.parent_span_id == to_gateway.span_id


def test_mcp_answers_at_exactly_mcp_without_a_redirect(stack: Stack) -> None:
    response = httpx.post(
        stack.endpoint,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Accept": "application/json, text/event-stream"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["id"] == 1


async def test_without_airtable_gateway_health_fails_naming_it_and_tools_fail_cleanly(
    run_app, free_port
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    mcp = run_app(
        "airscope.services.mcp_server", {"AIRSCOPE_URL_AIRTABLE_GATEWAY": nowhere}, ready_path="/health/live"
    )
    assert mcp.failing_checks() == {"airtable-gateway"}
    async with Client(mcp.url + "/mcp") as client:
        result = await client.call_tool("list_bases", {})
    assert "airtable-gateway" in error_text(result)


async def test_answers_are_compact_json_and_search_says_when_more_matched(stack: Stack) -> None:
    async with Client(stack.endpoint) as client:
        result = await client.call_tool("list_tables", {"base_id": BASE})
        three = payload(
            await client.call_tool(
                "search_records",
                {"base_id": BASE, "table": "Customers", "max_records": 3, "fields": ["Name", "City"]},
            )
        )
        one = payload(
            await client.call_tool(
                "search_records", {"base_id": BASE, "table": "Customers", "query": "ada lovelace"}
            )
        )

    text = result.content[0].text
    assert "\n" not in text and ": " not in text  # no indentation a model would pay for
    assert [r["fields"]["Name"] for r in three["records"]] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert all(set(r) == {"id", "fields"} and set(r["fields"]) == {"Name", "City"} for r in three["records"])
    assert three["more"] is True
    assert [r["fields"]["Name"] for r in one["records"]] == ["Ada Lovelace"] and one["more"] is False


async def test_a_table_named_in_another_case_or_number_is_found(stack: Stack) -> None:
    async with Client(stack.endpoint) as client:
        counted = payload(await client.call_tool("count_records", {"base_id": BASE, "table": "customers"}))
        found = payload(
            await client.call_tool("search_records", {"base_id": BASE, "table": "customer", "query": "ada"})
        )
        summed = payload(
            await client.call_tool(
                "aggregate_field", {"base_id": BASE, "table": "ORDERS", "field": "Quantity", "op": "sum"}
            )
        )

    assert counted == {"table": "Customers", "count": 24, "capped": False}
    assert found["table"] == "Customers" and [r["fields"]["Name"] for r in found["records"]] == [
        "Ada Lovelace"
    ]
    assert summed["table"] == "Orders" and summed["value"] == sum(1 + n % 4 for n in range(30))


async def test_list_tables_pages_a_base_that_has_grown_and_filters_by_name(stack: Stack) -> None:
    # Last in the module: the base keeps these tables. Made through airtable-gateway, as a saga makes
    # them, so its cached table list is dropped.
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as gateway:
        for n in range(25):
            created = await gateway.post(
                f"/bases/{BASE}/tables",
                json={"name": f"Paging {n:02d}", "fields": [{"name": "Task", "type": "singleLineText"}]},
            )
            assert created.status_code == 201, created.text
    async with Client(stack.endpoint) as client:
        first = payload(await client.call_tool("list_tables", {"base_id": BASE}))
        paging = payload(await client.call_tool("list_tables", {"base_id": BASE, "name_contains": "PAGING"}))
        rest = payload(
            await client.call_tool("list_tables", {"base_id": BASE, "name_contains": "paging", "offset": 20})
        )
        unknown = await client.call_tool("count_records", {"base_id": BASE, "table": "Pagin 07"})
        not_searchable = await client.call_tool(
            "search_records", {"base_id": BASE, "table": "Paging 7", "query": "x"}
        )

    assert len(first["tables"]) == 20 and first["total"] >= 28 and first["next_offset"] == 20
    assert [t["name"] for t in paging["tables"]] == [f"Paging {n:02d}" for n in range(20)]
    assert paging["total"] == 25 and paging["next_offset"] == 20
    assert [t["name"] for t in rest["tables"]] == [f"Paging {n:02d}" for n in range(20, 25)]
    assert "next_offset" not in rest
    assert unknown.is_error
    # An unknown table's error names the likeliest tables, not every one of a big base.
    message = error_text(not_searchable)
    assert (
        "Paging 07" in message and "name_contains" in message and message.count("Paging ") == 1 + 5
    )  # the name asked for, and five likely ones
