"""The row at 2x the knee: shed, admitted, failed and recovery from the chats' answers, and one short
open-loop run against an app that sheds past its concurrency limit (no platform, about 5 s)."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airscope.bench import overload
from airscope.bench.overload import Attempt, Phase

PHASES = (Phase("before", 10, 2), Phase("overload", 40, 2), Phase("after", 10, 10))


def _attempts(
    phase: str, start: float, rate: float, seconds: float, latency: float, **answer
) -> list[Attempt]:
    answer = {"status": 200} | answer
    return [Attempt(phase, start + i / rate, latency, **answer) for i in range(int(rate * seconds))]


def test_refusals_with_retry_after_are_shed_and_everything_else_not_admitted_failed() -> None:
    attempts = [
        *_attempts("before", 0, 10, 2, 0.1),
        *_attempts("overload", 2, 10, 2, 0.5),  # 20 admitted in 500 ms
        *_attempts("overload", 2, 10, 2, 0.01, status=503, retry_after=True),  # 20 shed fast
        *_attempts("overload", 2, 5, 2, 0.02, status=503),  # no Retry-After: 10 failures
        *_attempts("overload", 2, 5, 2, 10.0, status=None, error="gave up"),  # 10 the client gave up on
        *_attempts("after", 4, 10, 3, 2.0),  # three seconds still slow
        *_attempts("after", 7, 10, 7, 0.12),  # then within 1.5x the normal 100 ms
    ]
    row = overload.summarize(attempts, PHASES, knee=20)
    assert (row.offered, row.admitted, row.shed, row.failed, row.gave_up) == (60, 20, 20, 20, 10)
    assert row.shed_share == 20 / 60
    assert (row.refusal_p95_ms, row.admitted_p95_ms, row.normal_p95_ms) == (10.0, 500.0, 100.0)
    # Windows of 4 s, one a second, from the overload's end: the first three hold slow chats.
    assert row.recovery_seconds == 3.0
    assert row.after_failed == 0


def test_recovery_needs_every_later_window_back_to_normal() -> None:
    relapse = [
        *_attempts("after", 4, 10, 2, 0.1),
        *_attempts("after", 6, 10, 2, 0.1, status=503, retry_after=True),  # shed again
        *_attempts("after", 8, 10, 6, 0.1),
    ]
    assert overload.recovery_seconds(relapse, 4, normal_p95_ms=100, after_seconds=10) == 4.0
    never = [*_attempts("after", 4, 10, 8, 0.1), *_attempts("after", 12, 10, 2, 0.3)]
    assert overload.recovery_seconds(never, 4, normal_p95_ms=100, after_seconds=10) is None
    at_once = _attempts("after", 4, 10, 4, 0.1)
    assert overload.recovery_seconds(at_once, 4, normal_p95_ms=100, after_seconds=4) == 0.0
    # One slow chat of forty in a window is not its p95: a busy machine's noise is not a relapse.
    noisy = [*at_once[:-1], dataclasses.replace(at_once[-1], seconds=0.9)]
    assert overload.recovery_seconds(noisy, 4, normal_p95_ms=100, after_seconds=4) == 0.0


def _shedding_app(limit: int, work: float) -> Starlette:
    """A chat endpoint that admits ``limit`` chats at once and refuses the others with a 503 and a
    Retry-After, as the kit's concurrency limit does."""
    running = 0

    async def chat(request: Request) -> JSONResponse:
        nonlocal running
        assert request.headers["X-API-Key"] == "key"
        if running >= limit:
            return JSONResponse({"error": "overloaded"}, status_code=503, headers={"Retry-After": "1"})
        running += 1
        try:
            await asyncio.sleep(work)
        finally:
            running -= 1
        return JSONResponse({"reply": "hi"})

    return Starlette(routes=[Route("/api/chat", chat, methods=["POST"])])


def test_an_open_loop_past_the_limit_is_shed_fast_and_recovers() -> None:
    phases = (Phase("before", 20, 1), Phase("overload", 300, 1), Phase("after", 20, 6))
    transport = httpx.ASGITransport(app=_shedding_app(limit=5, work=0.05))
    attempts = asyncio.run(overload.offer("http://gateway", "key", phases, patience=2.0, transport=transport))
    assert len(attempts) == 20 + 300 + 120
    row = overload.summarize(attempts, phases, knee=150, patience=2.0)
    assert row.offered == 300 and row.shed > 150 and row.failed == 0
    assert row.admitted + row.shed == row.offered
    assert row.refusal_p95_ms is not None and row.refusal_p95_ms < row.admitted_p95_ms
    assert row.recovery_seconds is not None and row.recovery_seconds <= 2.0


def test_a_chat_past_the_clients_patience_is_given_up_and_failed() -> None:
    phases = (Phase("before", 5, 0.4), Phase("overload", 5, 0.4), Phase("after", 5, 0.4))
    transport = httpx.ASGITransport(app=_shedding_app(limit=100, work=1.0))
    attempts = asyncio.run(overload.offer("http://gateway", "key", phases, patience=0.2, transport=transport))
    assert attempts and all(a.error == "gave up" and a.failed for a in attempts)
    assert all(0.2 <= a.seconds < 0.5 for a in attempts)
