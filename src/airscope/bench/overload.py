"""The bench's row "at 2x the knee": chats offered open loop at twice the rate the platform sustains,
between two stretches of normal load.

Three phases back to back, one open-loop schedule each (a chat starts at its time whatever the
earlier ones are doing, so a slow platform cannot slow the offer down): ``before`` at the normal
rate (its p95 is the normal p95), ``overload`` at twice the knee, ``after`` at the normal rate again,
started the moment the overload stops while its chats are still in flight. The client gives up on a
chat after ``PATIENCE_SECONDS``, as a user would: that chat counts as failed (the server, if it
records the disconnect, counts a 499).

What it answers:

- the share shed: chats refused with 429 or 503 *and* a ``Retry-After`` (a refusal the client can act
  on); a 503 without one is a failure like any other;
- how fast the excess was refused: the p95 of the refusals' latency (goal: 50 ms);
- the p95 of what was admitted during the overload (goal: under 1 s);
- recovery: from the end of the overload to the start of the first window of the ``after`` phase from
  which every window (``RECOVERY_WINDOW_SECONDS`` of chats by due time, one window a second) has a
  p95 within ``RECOVERY_FACTOR`` of the normal p95 and nothing failed or shed (goal: 10 s).

Latency is measured from each chat's scheduled start, so time spent waiting for a client connection
counts (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx

from airscope.bench.result import Overload
from airscope.local import load

PATIENCE_SECONDS = 10.0
RECOVERY_WINDOW_SECONDS = 4.0
RECOVERY_STEP_SECONDS = 1.0
RECOVERY_FACTOR = 1.5
SHED_STATUSES = frozenset({429, 503})
CLIENT_CONNECTIONS = 2000  # far above what the platform admits: the client never queues the offer
CHAT_ROUTE = "/api/chat"
SEED = 21


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float
    seconds: float


@dataclass(frozen=True)
class Attempt:
    """One chat: when it was due (seconds from the first phase's start), how long until its answer or
    until the client gave up, and the answer."""

    phase: str
    due: float
    seconds: float
    status: int | None
    retry_after: bool = False
    error: str | None = None  # "gave up" past the patience, or the transport error's name

    @property
    def admitted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def shed(self) -> bool:
        return self.status in SHED_STATUSES and self.retry_after

    @property
    def failed(self) -> bool:
        return not (self.admitted or self.shed)


def p95_ms(seconds: Sequence[float]) -> float | None:
    ordered = sorted(seconds)
    return round(load.percentile(ordered, 0.95) * 1000, 1) if ordered else None


def recovery_seconds(
    attempts: Sequence[Attempt], overload_end: float, normal_p95_ms: float, after_seconds: float
) -> float | None:
    """Seconds from ``overload_end`` to the start of the first window of the ``after`` phase from
    which every window is back to normal; None if its last window is not. Windows are
    ``RECOVERY_WINDOW_SECONDS`` wide, one starting every ``RECOVERY_STEP_SECONDS``: wide enough that one
    slow chat of a busy machine is not a p95 on its own, stepped finely enough to time the recovery."""
    after = [a for a in attempts if a.phase == "after"]
    starts = []
    start = 0.0
    while start + RECOVERY_WINDOW_SECONDS <= after_seconds + 1e-9:
        starts.append(start)
        start += RECOVERY_STEP_SECONDS
    recovered: float | None = None
    for start in starts:
        chats = [a for a in after if start <= a.due - overload_end < start + RECOVERY_WINDOW_SECONDS]
        if not chats:
            continue
        p95 = p95_ms([a.seconds for a in chats]) or 0.0
        normal = not any(a.failed or a.shed for a in chats) and p95 <= RECOVERY_FACTOR * normal_p95_ms
        if not normal:
            recovered = None
        elif recovered is None:
            recovered = start
    return recovered


def summarize(
    attempts: Sequence[Attempt], phases: Sequence[Phase], knee: float, patience: float = PATIENCE_SECONDS
) -> Overload:
    before = [a for a in attempts if a.phase == "before"]
    during = [a for a in attempts if a.phase == "overload"]
    normal_p95 = p95_ms([a.seconds for a in before if a.admitted]) or 0.0
    overload_end = sum(p.seconds for p in phases if p.name in ("before", "overload"))
    after = next(p for p in phases if p.name == "after")
    shed = [a for a in during if a.shed]
    overload = next(p for p in phases if p.name == "overload")
    normal = next(p for p in phases if p.name == "before")
    return Overload(
        mix="chat",
        knee_rate=knee,
        rate=overload.rate,
        seconds=overload.seconds,
        normal_rate=normal.rate,
        patience_seconds=patience,
        offered=len(during),
        admitted=sum(a.admitted for a in during),
        shed=len(shed),
        failed=sum(a.failed for a in during),
        gave_up=sum(a.error == "gave up" for a in during),
        refusal_p95_ms=p95_ms([a.seconds for a in shed]),
        admitted_p95_ms=p95_ms([a.seconds for a in during if a.admitted]),
        normal_p95_ms=normal_p95,
        after_failed=sum(a.failed for a in attempts if a.phase == "after"),
        recovery_seconds=recovery_seconds(attempts, overload_end, normal_p95, after.seconds),
    )


async def _chat(
    client: httpx.AsyncClient, api_key: str, message: str, patience: float
) -> tuple[int | None, bool, str | None]:
    try:
        async with asyncio.timeout(patience):
            response = await client.post(
                CHAT_ROUTE, json={"message": message}, headers={"X-API-Key": api_key}
            )
    except TimeoutError:
        return None, False, "gave up"
    except httpx.HTTPError as exc:
        return None, False, type(exc).__name__
    return response.status_code, "retry-after" in response.headers, None


def _timetable(phases: Sequence[Phase]) -> Iterator[tuple[str, float]]:
    """(phase, when its chat is due) for every chat, on one clock: phase ``n`` starts when ``n - 1``
    ends, whatever the chats still in flight."""
    offset = 0.0
    for phase in phases:
        i = 0
        while i / phase.rate < phase.seconds:
            yield phase.name, offset + i / phase.rate
            i += 1
        offset += phase.seconds


async def offer(
    gateway: str,
    api_key: str,
    phases: Sequence[Phase],
    *,
    patience: float = PATIENCE_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Attempt]:
    """Sends the phases' chats open loop, back to back; every chat's answer, once all are in."""
    rng = random.Random(SEED)
    attempts: list[Attempt] = []
    in_flight: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=CLIENT_CONNECTIONS, max_keepalive_connections=CLIENT_CONNECTIONS)
    timeout = httpx.Timeout(patience + 5, connect=patience)  # the patience ends a chat first
    async with httpx.AsyncClient(
        base_url=gateway, limits=limits, timeout=timeout, transport=transport
    ) as client:
        start = time.monotonic()

        async def one(phase: str, due: float, message: str) -> None:
            status, retry_after, error = await _chat(client, api_key, message, patience)
            attempts.append(Attempt(phase, due, time.monotonic() - start - due, status, retry_after, error))

        for phase, due in _timetable(phases):
            if (delay := start + due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(phase, due, rng.choice(load.CHAT_MESSAGES)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(set(in_flight))
    return sorted(attempts, key=lambda a: a.due)


def measure(
    gateway: str,
    api_key: str,
    knee: float,
    normal_rate: float,
    seconds: float,
    progress: Callable[[str], None] = lambda _: None,
) -> Overload:
    """The overload row: ``seconds`` at twice ``knee`` chats/s, with ``seconds`` of ``normal_rate``
    before it and after it."""
    phases = (
        Phase("before", normal_rate, seconds),
        Phase("overload", 2 * knee, seconds),
        Phase("after", normal_rate, seconds),
    )
    progress(
        f"overload: chats at {normal_rate:g}/s, {2 * knee:g}/s (2x the knee) and {normal_rate:g}/s, "
        f"{seconds:g} s each"
    )
    row = summarize(asyncio.run(offer(gateway, api_key, phases)), phases, knee)
    progress(
        f"  {row.shed_share:.0%} shed, refusals p95 {row.refusal_p95_ms} ms, admitted p95 "
        f"{row.admitted_p95_ms} ms, {row.failed} failed, recovered in {row.recovery_seconds} s"
    )
    return row
