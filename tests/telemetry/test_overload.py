"""Requests whose client left (499) and requests refused past the concurrency limit (503 shed)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from opentelemetry.trace import StatusCode

from airscope.telemetry import KitEnvironment

pytestmark = pytest.mark.anyio


def slow_app(release: asyncio.Event | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/slow/{n}")
    async def slow(n: int) -> dict:
        if release is not None:
            await release.wait()
        else:
            await asyncio.sleep(0.5)
        return {"n": n}

    @app.post("/upload")
    async def upload(request: Request) -> dict:
        return {"size": len(await request.body())}

    return app


def _http_scope(method: str, path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"10")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def test_a_client_gone_while_the_body_is_read_is_a_499_not_an_error(make_kit):
    kit = make_kit(app=slow_app())

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    sent = []

    async def send(message: dict) -> None:
        sent.append(message)

    await kit.app(_http_scope("POST", "/upload"), receive, send)

    assert kit.sample(
        "http_server_request_duration_seconds_count", method="POST", route="/upload", status="499"
    )
    (span,) = kit.spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 499
    access = next(r for r in kit.logs.records() if r["event"] == "request")
    assert access["status"] == 499
    # Not a bug of the service: no traceback, no "unhandled exception".
    assert not [r for r in kit.logs.records() if r["event"] == "unhandled exception"]


async def test_a_request_the_server_cancels_before_answering_is_a_499(make_kit):
    kit = make_kit(app=slow_app(release=asyncio.Event()))
    async with kit.client() as client:
        request = asyncio.ensure_future(client.get("/slow/1"))
        await asyncio.sleep(0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    assert kit.sample(
        "http_server_request_duration_seconds_count", method="GET", route="/slow/{n}", status="499"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_under_uvicorn_a_client_that_gave_up_is_a_499_though_the_app_answered_200(make_kit):
    # uvicorn drops an answer sent to a closed connection without a word: the app "answers 200".
    kit = make_kit(app=slow_app())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(kit.app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/slow/1", timeout=0.1)
            assert (await client.get("/slow/2")).status_code == 200
        await asyncio.sleep(0.6)  # the first request's handler ends after its client left
    finally:
        server.should_exit = True
        await serving

    def count(status: str) -> float | None:
        return kit.sample(
            "http_server_request_duration_seconds_count", method="GET", route="/slow/{n}", status=status
        )

    assert (count("499"), count("200")) == (1, 1)


async def test_past_the_limit_requests_are_refused_at_once_with_503_and_retry_after(make_kit):
    release = asyncio.Event()
    kit = make_kit(app=slow_app(release), max_concurrent_requests=2)
    async with kit.client() as client:
        admitted = [asyncio.ensure_future(client.get(f"/slow/{n}")) for n in range(2)]
        await asyncio.sleep(0.05)
        refused = await client.get("/slow/3")
        probe = await client.get("/health/live")
        metrics = await client.get("/metrics")
        release.set()
        answers = await asyncio.gather(*admitted)

    assert [a.status_code for a in answers] == [200, 200]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "overloaded"
    assert (probe.status_code, metrics.status_code) == (200, 200)
    assert kit.sample("http_server_requests_shed_total", method="GET") == 1
    assert kit.sample("http_server_requests_shed_total", method="POST") == 0
    # The refusal is an answer like any other: the SLIs see it under the route it asked for.
    assert kit.sample(
        "http_server_request_duration_seconds_count", method="GET", route="/slow/{n}", status="503"
    )
    # Room again once the admitted ones are done.
    async with kit.client() as client:
        release.set()
        assert (await client.get("/slow/4")).status_code == 200
    assert kit.instrumentation.admission.in_flight == 0


async def test_a_limit_of_zero_admits_everything(make_kit):
    kit = make_kit(app=slow_app(), max_concurrent_requests=0)
    assert kit.instrumentation.admission is None
    assert kit.series("http_server_requests_shed_total") == 0


def test_the_limit_is_read_from_the_environment():
    assert KitEnvironment.from_env({}).max_concurrent_requests == 100
    assert KitEnvironment.from_env({"AIRSCOPE_MAX_CONCURRENT_REQUESTS": "7"}).max_concurrent_requests == 7
