"""The LLM stand-in's rules as pure functions: conversations in, the next reply out."""

from __future__ import annotations

import json
from typing import Any

from airscope.standins.llm.rules import HELP, Reply, ToolCall, decide, search_query

TOOLS = ["list_bases", "list_tables", "search_records", "get_record", "count_records"]
BASE = "appAirscopeDemo01"
BASES = {"bases": [{"id": BASE, "name": "Airscope Demo", "permissionLevel": "create"}]}
TABLES = {
    "tables": [
        {"id": "tblAAAAAAAAAAAAAA", "name": "Customers", "fields": []},
        {"id": "tblBBBBBBBBBBBBBB", "name": "Orders", "fields": []},
        {"id": "tblCCCCCCCCCCCCCC", "name": "Products", "fields": []},
    ]
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def answered(messages: list[dict[str, Any]], reply: Reply, result: Any) -> list[dict[str, Any]]:
    """The conversation after the client ran the reply's tool call and sent back its result."""
    assert reply.tool_call is not None, reply
    call_id = f"call_{len(messages)}"
    call = {
        "id": call_id,
        "type": "function",
        "function": {"name": reply.tool_call.name, "arguments": json.dumps(reply.tool_call.arguments)},
    }
    content = result if isinstance(result, str) else json.dumps(result)
    return [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": content},
    ]


def test_list_tables_finds_the_base_first_then_names_the_tables() -> None:
    messages = [{"role": "system", "content": "You help with Airtable."}, user("List the tables in my base")]
    first = decide(messages, TOOLS)
    assert first == Reply(tool_call=ToolCall("list_bases", {}))
    messages = answered(messages, first, BASES)
    second = decide(messages, TOOLS)
    assert second == Reply(tool_call=ToolCall("list_tables", {"base_id": BASE}))
    messages = answered(messages, second, TABLES)
    final = decide(messages, TOOLS)
    assert final.tool_call is None
    assert final.text == "The base Airscope Demo has 3 tables: Customers, Orders, Products."


def test_a_base_id_in_the_question_is_used_directly() -> None:
    reply = decide([user(f"What is the schema of {BASE}?")], TOOLS)
    assert reply.tool_call == ToolCall("list_tables", {"base_id": BASE})


def test_list_bases() -> None:
    messages = [user("Which bases do I have?")]
    first = decide(messages, TOOLS)
    assert first.tool_call == ToolCall("list_bases", {})
    final = decide(answered(messages, first, BASES), TOOLS)
    assert final.text == "You have 1 base: Airscope Demo (appAirscopeDemo01)."


def test_count_learns_the_tables_then_counts() -> None:
    messages = [user(f"How many orders are there in {BASE}?")]
    first = decide(messages, TOOLS)
    assert first.tool_call == ToolCall("list_tables", {"base_id": BASE})
    messages = answered(messages, first, TABLES)
    second = decide(messages, TOOLS)
    assert second.tool_call == ToolCall("count_records", {"base_id": BASE, "table": "Orders"})
    final = decide(answered(messages, second, {"count": 30, "table": "Orders"}), TOOLS)
    assert final.text == "There are 30 records in Orders."


def test_a_later_question_reuses_what_the_conversation_knows() -> None:
    messages = [user("List the tables in my base")]
    for result in (BASES, TABLES):
        messages = answered(messages, decide(messages, TOOLS), result)
    messages += [{"role": "assistant", "content": decide(messages, TOOLS).text}, user("Count the Products")]
    assert decide(messages, TOOLS).tool_call == ToolCall(
        "count_records", {"base_id": BASE, "table": "Products"}
    )


def test_search_with_a_query() -> None:
    messages = [user(f"Find customers named 'ada' in {BASE}")]
    messages = answered(messages, decide(messages, TOOLS), TABLES)
    reply = decide(messages, TOOLS)
    assert reply.tool_call == ToolCall(
        "search_records", {"base_id": BASE, "table": "Customers", "query": "ada"}
    )
    records = {
        "records": [{"id": "recAAAAAAAAAAAAAA", "createdTime": "", "fields": {"Name": "Ada Lovelace"}}]
    }
    final = decide(answered(messages, reply, records), TOOLS)
    assert final.text == 'Found 1 record in Customers matching "ada": Ada Lovelace.'


def test_a_table_the_base_lacks_is_answered_with_the_tables_it_has() -> None:
    messages = [user(f"How many invoices are in {BASE}?")]
    final = decide(answered(messages, decide(messages, TOOLS), TABLES), TOOLS)
    assert final.tool_call is None
    assert "Customers, Orders, Products" in final.text


def test_no_rule_means_a_text_answer_without_tools() -> None:
    assert decide([user("Hello, who are you?")], TOOLS) == Reply(text=HELP)


def test_only_offered_tools_are_called() -> None:
    reply = decide([user("List the tables in my base")], ["list_tables"])
    assert reply.tool_call is None
    assert "list_bases" in reply.text


def test_a_failed_tool_is_reported_not_retried() -> None:
    messages = [user(f"List the tables of {BASE}")]
    first = decide(messages, TOOLS)
    final = decide(answered(messages, first, "Error: airtable-gateway answered 503"), TOOLS)
    assert final.text == "The tool list_tables failed: Error: airtable-gateway answered 503"


def test_an_empty_result_does_not_loop() -> None:
    messages = [user("List the tables in my base")]
    messages = answered(messages, decide(messages, TOOLS), {"bases": []})
    assert decide(messages, TOOLS).tool_call is None


def test_search_query_extraction() -> None:
    assert search_query('Search Customers for "Grace Hopper"') == "Grace Hopper"
    assert search_query("Find customers named Ada?") == "Ada"
    assert search_query("Show the records of Orders") == ""
