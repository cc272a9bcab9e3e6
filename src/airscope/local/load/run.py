"""One run of the load: plans, paces and performs actions, at most ``max_in_flight`` at once.

An action due while that many run is counted as skipped, never queued, so a stalled platform cannot
pile up an unbounded backlog here.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

import airscope
from airscope.local import LocalError, ports
from airscope.local.load.flows import UPLOAD_POLL_DELAY_SECONDS, Driver
from airscope.local.load.pacing import schedule
from airscope.local.load.plan import WEIGHTS, Action, Mix
from airscope.local.load.progress import Progress
from airscope.local.load.truth import Tally

DEFAULT_GATEWAY_PORT = 7000
# Above the gateway's 60 s chat timeout, so its 504 comes through rather than a client timeout.
REQUEST_TIMEOUT = httpx.Timeout(70.0, connect=5.0)
PROBE_TIMEOUT_SECONDS = 5.0
DRAIN_TIMEOUT_SECONDS = 75.0  # waiting for the last in-flight actions, above REQUEST_TIMEOUT


@dataclass(frozen=True)
class Settings:
    gateway: str
    api_key: str
    rps: float = 5.0
    duration: float = 60.0
    seed: int = 0
    max_in_flight: int = 50


class Load:
    """One run: plans, paces and performs actions; ``tally`` holds what was sent so far."""

    def __init__(
        self,
        settings: Settings,
        *,
        tag: str | None = None,
        weights: dict[str, int] = WEIGHTS,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_delay: float = UPLOAD_POLL_DELAY_SECONDS,
    ) -> None:
        self.settings = settings
        self.mix = Mix(settings.seed, tag or secrets.token_hex(4), weights)
        self.tally = Tally()
        self.transport = transport
        self.clock = clock
        self.sleep = sleep
        self.poll_delay = poll_delay
        self.in_flight: set[asyncio.Task[None]] = set()
        self.crashes: list[BaseException] = []

    async def run(self, progress: Progress | None = None) -> None:
        limits = httpx.Limits(
            max_connections=self.settings.max_in_flight, max_keepalive_connections=self.settings.max_in_flight
        )
        async with httpx.AsyncClient(
            base_url=self.settings.gateway,
            transport=self.transport,
            limits=limits,
            timeout=REQUEST_TIMEOUT,
            headers={"User-Agent": f"airscope-load/{airscope.__version__}"},
        ) as client:
            await self._probe(client)
            driver = Driver(
                client,
                self.settings.api_key,
                self.tally,
                clock=self.clock,
                sleep=self.sleep,
                poll_delay=self.poll_delay,
            )
            shown = asyncio.create_task(progress.run()) if progress else None
            try:
                async for _ in schedule(
                    self.settings.rps, self.settings.duration, clock=self.clock, sleep=self.sleep
                ):
                    self._start(driver, self.mix.next())
                if self.in_flight:
                    await asyncio.wait(self.in_flight, timeout=DRAIN_TIMEOUT_SECONDS)
            finally:
                for task in self.in_flight:
                    task.cancel()
                if shown:
                    shown.cancel()
        if self.crashes:  # a bug in this module, not the platform's answer: fail loudly
            raise self.crashes[0]

    async def _probe(self, client: httpx.AsyncClient) -> None:
        try:
            await client.get("/health/live", timeout=PROBE_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise LocalError(
                f"the api-gateway at {self.settings.gateway} is not reachable ({type(exc).__name__}: {exc}); "
                "start the platform with `make up`, or point --gateway at a running gateway"
            ) from None

    def _start(self, driver: Driver, action: Action) -> None:
        self.tally.planned[action.flow] += 1
        if len(self.in_flight) >= self.settings.max_in_flight:
            self.tally.skipped[action.flow] += 1
            return
        task = asyncio.create_task(driver.perform(action))
        self.in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.crashes.append(task.exception())


def default_gateway() -> str:
    return f"http://127.0.0.1:{ports.port_for('api-gateway', DEFAULT_GATEWAY_PORT)}"


def random_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def send(gateway: str, api_key: str, rps: float, duration: float) -> Tally:
    """A load with a random seed and its progress line, for the commands that check what it did
    (`airscope drill quiet`, `airscope check --live`); answers what it sent."""
    settings = Settings(
        gateway=gateway,
        api_key=api_key,
        rps=rps,
        duration=duration,
        seed=random_seed(),
    )
    run = Load(settings)
    asyncio.run(run.run(Progress(run.tally, duration)))
    return run.tally


def summarized(settings: Settings) -> dict[str, Any]:
    """`airscope load`: one run with its progress line, then the summary of what was sent (Ctrl-C
    ends the run early and still answers what was sent until then, marked ``interrupted``)."""
    run = Load(settings)
    progress = Progress(run.tally, settings.duration)
    started_at, began = _now(), time.monotonic()
    interrupted = False
    try:
        asyncio.run(run.run(progress))
    except KeyboardInterrupt:
        interrupted = True
    if run.tally.sent:
        progress.show(final=True)
    return {
        "gateway": settings.gateway,
        "seed": settings.seed,
        "rps": settings.rps,
        "duration_seconds": settings.duration,
        "max_in_flight": settings.max_in_flight,
        "started_at": started_at,
        "ended_at": _now(),
        "elapsed_seconds": round(time.monotonic() - began, 3),
        "interrupted": interrupted,
        **run.tally.as_json(),
    }
