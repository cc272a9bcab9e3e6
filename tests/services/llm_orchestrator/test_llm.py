"""The provider client's retries, error mapping and GenAI span, against a scripted HTTP transport."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from prometheus_client import REGISTRY

from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator.config import Config, Price
from airscope.services.llm_orchestrator.llm import LLM
from airscope.telemetry.testing import in_memory_tracer_provider

pytestmark = pytest.mark.anyio

MODEL = "unit-test-model"
CONFIG = Config(
    llm_base_url="http://llm.test/v1",
    llm_api_key="sk-unit-secret",
    llm_model=MODEL,
    llm_timeout_seconds=5,
    llm_max_retries=2,
    llm_prices={MODEL: Price(1.0, 2.0)},
    daily_budget_usd=10,
    chat_max_steps=6,
    database_url="postgresql://unused",
    redis_url="redis://unused",
    airtable_base_id=None,
    mcp_server_url="http://unused",
    platform_url="http://unused",
)
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": MODEL,
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Three tables."}}
    ],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
}
ERROR = {"error": {"message": "Incorrect API key provided: sk-unit***cret", "type": "invalid_request_error"}}


def scripted(*answers: tuple[int, dict]) -> tuple[LLM, list, object]:
    """An LLM whose provider answers with ``answers`` in turn; also the requests it saw and the spans."""
    seen: list[httpx2.Request] = []
    queue = list(answers)

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        status, body = queue.pop(0)
        if status == 0:
            raise httpx2.ReadTimeout("timed out", request=request)
        return httpx2.Response(status, json=body)

    client = openai.AsyncOpenAI(
        base_url=CONFIG.llm_base_url,
        api_key=CONFIG.llm_api_key,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    provider, exporter = in_memory_tracer_provider()

    async def no_sleep(seconds: float) -> None:
        pass

    return LLM(CONFIG, client=client, sleep=no_sleep, tracer_provider=provider), seen, exporter


def requests(outcome: str) -> float:
    return REGISTRY.get_sample_value("llm_requests_total", {"model": MODEL, "outcome": outcome}) or 0


async def test_server_errors_are_retried_and_each_attempt_counted() -> None:
    llm, seen, exporter = scripted((500, ERROR), (503, ERROR), (200, COMPLETION))
    errors, oks = requests("error"), requests("ok")
    completion = await llm.complete([{"role": "user", "content": "hi"}], [])
    assert completion.message.content == "Three tables."
    assert (completion.input_tokens, completion.output_tokens) == (1000, 500)
    assert completion.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert len(seen) == 3
    assert (requests("error") - errors, requests("ok") - oks) == (2, 1)
    assert [span.name for span in exporter.get_finished_spans()] == [f"chat {MODEL}"] * 3


async def test_retries_exhausted_is_502_llm_unavailable() -> None:
    llm, seen, _ = scripted((500, ERROR), (500, ERROR), (429, ERROR))
    limited = requests("rate_limited")
    with pytest.raises(ServiceError) as failed:
        await llm.complete([{"role": "user", "content": "hi"}], [])
    assert (failed.value.status, failed.value.code) == (502, "llm_unavailable")
    assert "3 attempts" in failed.value.message and "429" in failed.value.message
    assert requests("rate_limited") - limited == 1
    assert len(seen) == 3


async def test_timeouts_exhausted_is_504_llm_timeout() -> None:
    llm, seen, _ = scripted((0, {}), (0, {}), (0, {}))
    timeouts = requests("timeout")
    with pytest.raises(ServiceError) as failed:
        await llm.complete([{"role": "user", "content": "hi"}], [])
    assert (failed.value.status, failed.value.code) == (504, "llm_timeout")
    assert len(seen) == 3 and requests("timeout") - timeouts == 3


async def test_bad_key_is_not_retried_and_its_text_not_passed_on() -> None:
    llm, seen, _ = scripted((401, ERROR))
    rejected = requests("rejected")
    with pytest.raises(ServiceError) as failed:
        await llm.complete([{"role": "user", "content": "hi"}], [])
    assert (failed.value.status, failed.value.code) == (502, "llm_rejected")
    assert "LLM_API_KEY" in failed.value.message and "sk-unit" not in failed.value.message
    assert len(seen) == 1 and requests("rejected") - rejected == 1


async def test_genai_span_carries_usage_and_no_text() -> None:
    llm, seen, exporter = scripted((200, COMPLETION))
    await llm.complete([{"role": "user", "content": "secret question"}], [])
    (span,) = exporter.get_finished_spans()
    assert span.kind.name == "CLIENT"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 500,
        "server.address": "llm.test",
        "server.port": 80,
    }
    # The request carried the question and the key; the span carries neither.
    assert "secret question" in json.loads(seen[0].content)["messages"][0]["content"]
    assert "secret question" not in str(span.attributes) and "sk-unit" not in str(span.attributes)


async def test_the_request_is_the_model_messages_and_tools_as_given() -> None:
    tool = {"type": "function", "function": {"name": "list_bases", "parameters": {"type": "object"}}}
    messages = [{"role": "user", "content": "Which bases?"}]
    llm, seen, _ = scripted((200, COMPLETION), (200, COMPLETION))
    await llm.complete(messages, [tool])
    await llm.complete(messages, [])
    assert json.loads(seen[0].content) == {"model": MODEL, "messages": messages, "tools": [tool]}
    assert json.loads(seen[1].content) == {"model": MODEL, "messages": messages}


async def test_a_failed_attempt_span_says_the_http_status() -> None:
    llm, _, exporter = scripted((503, ERROR), (200, COMPLETION))
    await llm.complete([{"role": "user", "content": "hi"}], [])
    failed, ok = exporter.get_finished_spans()
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == "error"
    assert "http.response.status_code" not in ok.attributes
