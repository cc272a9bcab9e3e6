"""Past an upstream's concurrency limit the gateway refuses at once (503, Retry-After), and the
idle connections of its client expire before the upstream's uvicorn closes them."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.requests import Request

from airscope.services.api_gateway.config import DEFAULT_MAX_CONCURRENT, Upstream
from airscope.services.api_gateway.proxy import ROUTES, Proxy
from airscope.services.common import ServiceError
from airscope.telemetry import KitEnvironment

pytestmark = pytest.mark.anyio

CHAT = next(route for route in ROUTES if route.template == "/api/chat")


def chat_request() -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/chat",
        "raw_path": b"/api/chat",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1234),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)


async def test_past_its_limit_an_upstream_gets_no_more_requests_until_one_ends():
    release = asyncio.Event()
    received = []

    async def slow_upstream(request: httpx.Request) -> httpx.Response:
        received.append(request.url.path)
        await release.wait()
        return httpx.Response(200, json={"answer": "ok"})

    upstream = Upstream("llm-orchestrator", "http://llm", timeout=60.0, deployed=True, max_concurrent=2)
    proxy = Proxy({"llm-orchestrator": upstream})
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow_upstream)) as client:
        proxy.client = client
        admitted = [asyncio.ensure_future(proxy.forward(CHAT, chat_request(), "c")) for _ in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(ServiceError) as refused:
            await proxy.forward(CHAT, chat_request(), "c")
        release.set()
        answers = await asyncio.gather(*admitted)
        after = await proxy.forward(CHAT, chat_request(), "c")

    assert (refused.value.status, refused.value.code) == (503, "upstream_overloaded")
    assert refused.value.headers == {"Retry-After": "1"}
    assert [a.status_code for a in answers] == [200, 200]
    assert after.status_code == 200
    assert len(received) == 3  # the refused one never reached the upstream
    assert proxy.in_flight == {"llm-orchestrator": 0}


def test_no_upstream_can_take_every_request_the_gateway_admits():
    assert KitEnvironment.from_env({}).max_concurrent_requests > DEFAULT_MAX_CONCURRENT
