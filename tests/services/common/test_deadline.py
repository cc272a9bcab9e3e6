"""RequestDeadline: a slow answer becomes the service's own 504, and the work behind it stops."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from airscope.services.common.deadline import RequestDeadline

pytestmark = pytest.mark.anyio


def _app(work_seconds: float, finished: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict:
        await asyncio.sleep(work_seconds)
        finished.append("work")
        return {"done": True}

    @app.get("/own-timeout")
    async def own_timeout() -> dict:
        raise TimeoutError("the app's own")

    @app.get("/health/live")
    async def live() -> dict:
        await asyncio.sleep(work_seconds)
        return {"status": "pass"}

    app.add_middleware(RequestDeadline, seconds=0.2, code="test_deadline")
    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        return await client.get(path)


async def test_an_answer_within_the_deadline_passes_untouched() -> None:
    finished: list[str] = []
    answer = await _get(_app(0.01, finished), "/work")
    assert (answer.status_code, answer.json(), finished) == (200, {"done": True}, ["work"])


async def test_past_the_deadline_the_work_stops_and_the_caller_hears_why() -> None:
    finished: list[str] = []
    answer = await _get(_app(1.0, finished), "/work")
    assert answer.status_code == 504
    assert answer.json()["error"] == "test_deadline"
    assert "0.2s" in answer.json()["message"]
    await asyncio.sleep(1.0)
    assert finished == []  # cancelled, not left working for no one


async def test_the_apps_own_timeout_error_is_not_mistaken_for_the_deadline() -> None:
    with pytest.raises(TimeoutError, match="the app's own"):
        await _get(_app(0.0, []), "/own-timeout")


async def test_probes_have_no_deadline() -> None:
    answer = await _get(_app(0.4, []), "/health/live")
    assert answer.status_code == 200
