"""The LLM stand-in over HTTP: OpenAI's shapes, usage by the documented rule, and the real openai client."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import openai
import pytest
from fastapi.testclient import TestClient

from airscope.standins.llm import create_app
from airscope.standins.llm.rules import HELP
from tests.servers import AppServer

AUTH = {"Authorization": "Bearer test-token"}
BASES = {"bases": [{"id": "appAirscopeDemo01", "name": "Airscope Demo", "permissionLevel": "create"}]}
TABLES = {
    "tables": [{"id": f"tbl{n * 14}", "name": n, "fields": []} for n in ("Customers", "Orders", "Products")]
}


def function_tool(name: str, **properties: str) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {
                "type": "object",
                "properties": {p: {"type": kind} for p, kind in properties.items()},
                "required": list(properties),
            },
        },
    }


TOOLS = [
    function_tool("list_bases"),
    function_tool("list_tables", base_id="string"),
    function_tool("count_records", base_id="string", table="string"),
]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("STANDIN_LATENCY_MS", raising=False)
    monkeypatch.delenv("STANDIN_LLM_API_KEY", raising=False)
    return TestClient(create_app(), headers=AUTH)


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_requires_a_bearer_key(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = TestClient(create_app()).get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    monkeypatch.setenv("STANDIN_LLM_API_KEY", "sk-right")
    strict = create_app()
    assert TestClient(strict, headers=AUTH).get("/v1/models").json()["error"]["code"] == "invalid_api_key"
    assert (
        TestClient(strict, headers={"Authorization": "Bearer sk-right"}).get("/v1/models").status_code == 200
    )


def test_text_answer_shape_and_usage(client: TestClient) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there!"}]
    body = client.post("/v1/chat/completions", json={"model": "my-model", "messages": messages}).json()
    assert body["object"] == "chat.completion" and body["model"] == "my-model"
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": HELP, "refusal": None}
    prompt = tokens("Be brief.") + tokens("Hello there!")
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": tokens(HELP),
        "total_tokens": prompt + tokens(HELP),
    }


def test_tool_call_shape_and_usage(client: TestClient) -> None:
    messages = [{"role": "user", "content": "List the tables in my base"}]
    body = client.post(
        "/v1/chat/completions", json={"model": "m", "messages": messages, "tools": TOOLS}
    ).json()
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "list_bases", "arguments": "{}"}
    prompt = tokens("List the tables in my base") + sum(tokens(compact(t)) for t in TOOLS)
    completion = tokens(compact(choice["message"]["tool_calls"]))
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    # An assistant message's tool calls count toward the prompt too.
    follow_up = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": compact(BASES)},
    ]
    next_body = client.post("/v1/chat/completions", json={"model": "m", "messages": follow_up}).json()
    expected = tokens("List the tables in my base") + tokens(compact([call])) + tokens(compact(BASES))
    assert next_body["usage"]["prompt_tokens"] == expected


def test_rejects_what_it_cannot_do_in_openai_shape(client: TestClient) -> None:
    streaming = client.post(
        "/v1/chat/completions",
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert streaming.status_code == 400
    assert streaming.json()["error"]["param"] == "stream"
    empty = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["param"] == "messages"
    assert client.get("/v1/nothing-here").json()["error"]["message"] == "Invalid URL (GET /v1/nothing-here)"


def test_the_openai_client_runs_a_whole_tool_loop(run_app: Callable[..., AppServer]) -> None:
    server = run_app("airscope.standins.llm", ready_path="/_admin/health")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    assert {"gpt-4o-mini", "gpt-4o"} <= {model.id for model in client.models.list()}

    messages: list = [{"role": "user", "content": "List the tables in my base"}]
    results = {"list_bases": BASES, "list_tables": TABLES}
    called = []
    for _ in range(4):
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        assert completion.model == "gpt-4o-mini"
        assert completion.usage is not None and completion.usage.total_tokens > 0
        choice = completion.choices[0]
        if choice.finish_reason != "tool_calls":
            break
        messages.append(choice.message.model_dump(exclude_none=True))
        for call in choice.message.tool_calls or []:
            called.append((call.function.name, json.loads(call.function.arguments)))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(results[call.function.name])}
            )
    assert called == [("list_bases", {}), ("list_tables", {"base_id": "appAirscopeDemo01"})]
    assert choice.finish_reason == "stop"
    assert choice.message.content == "The base Airscope Demo has 3 tables: Customers, Orders, Products."


def test_a_big_base_over_http_is_answered_as_partial_and_searched_by_name(client: TestClient) -> None:
    tools = [
        function_tool("list_tables", base_id="string", name_contains="string"),
        function_tool("count_records", base_id="string", table="string"),
    ]
    page = {
        "base": {"id": "appAirscopeDemo01", "name": "Airscope Demo"},
        "tables": [
            {"id": f"tbl{n:014d}", "name": f"Grown {n:03d}", "primary_field": "Item"} for n in range(1, 21)
        ],
        "total": 103,
        "next_offset": 20,
    }
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "list_tables", "arguments": compact({"base_id": "appAirscopeDemo01"})},
    }
    listed = [
        {
            "role": "system",
            "content": "The user's base is appAirscopeDemo01; use it unless they name another.",
        },
        {"role": "user", "content": "PLACEHOLDER"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": compact(page)},
    ]

    def reply(question: str) -> dict:
        messages = [*listed[:1], {"role": "user", "content": question}, *listed[2:]]
        body = client.post("/v1/chat/completions", json={"model": "m", "messages": messages, "tools": tools})
        assert body.status_code == 200, body.text
        return body.json()["choices"][0]

    listing = reply("List the tables in my base")
    assert listing["finish_reason"] == "stop"
    assert listing["message"]["content"].startswith(
        "The base Airscope Demo has 103 tables; the first 20: Grown 001"
    )
    assert listing["message"]["content"].endswith("Grown 020 (partial list).")
    lookup = reply("How many records are in Grown 087?")
    assert lookup["finish_reason"] == "tool_calls"
    (tool_call,) = lookup["message"]["tool_calls"]
    assert tool_call["function"]["name"] == "list_tables"
    assert json.loads(tool_call["function"]["arguments"]) == {
        "base_id": "appAirscopeDemo01",
        "name_contains": "grown 087",
    }
