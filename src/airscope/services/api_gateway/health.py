"""``GET /api/health``: the whole platform's health in one application/health+json document.

One background task asks every catalog service's ``/health`` every ``interval`` seconds,
concurrently with a short timeout; the route answers from those last observations, so a burst of
probes (or a load balancer's) costs the services nothing and the answer takes microseconds, not
the slowest service's reply. Each entry states when it was observed (``time``) and its age in
seconds (``ageSeconds``); one older than ``STALE_INTERVALS`` refreshes is reported stale (warn at
least), so the document never passes on an old "pass" as current. The document's status is the
worst of its entries: one look (or one probe) tells whether the platform is whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from airscope.services.api_gateway.config import SERVICE, Upstream
from airscope.telemetry import CheckResult, get_logger, untraced

log = get_logger(__name__)

PASS, WARN, FAIL = "pass", "warn", "fail"
_SEVERITY = {PASS: 0, WARN: 1, FAIL: 2}
# An observation is stale once this many refreshes have passed without a newer one (a refresh
# waits up to the timeout for its slowest service, and the event loop may lag under load).
STALE_INTERVALS = 3


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_SEVERITY.__getitem__, default=PASS)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Observation:
    """One service's health as last seen: its health+json entry (without its age) and when."""

    entry: dict
    at: datetime
    # The refresh period of this observation: an entry older than STALE_INTERVALS of them is stale.
    every: float


def _entry(status: str, started: float | None, output: str = "") -> dict:
    entry: dict = {"componentType": "component", "status": status}
    if started is not None:
        entry["observedValue"] = round((time.perf_counter() - started) * 1000, 3)
        entry["observedUnit"] = "ms"
    if output:
        entry["output"] = output
    return entry


class PlatformHealth:
    def __init__(
        self,
        targets: Mapping[str, Upstream],
        *,
        timeout: float,
        interval: float,
        own_results: Callable[[], Awaitable[Sequence[CheckResult]]],
        own_interval: float,
        version: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.targets = targets
        self.timeout = timeout
        self.interval = interval
        # The gateway's own checks, as its kit's health loop last ran them (every own_interval s).
        self.own_results = own_results
        self.own_interval = own_interval
        self.version = version
        self._now = now
        self._observed: dict[str, Observation] = {}
        self._first = asyncio.Event()

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Observes every service once, concurrently."""
        names = [SERVICE, *self.targets]
        observations = await asyncio.gather(
            self._own(), *(self._fetch(client, target) for target in self.targets.values())
        )
        self._observed = dict(zip(names, observations, strict=True))
        self._first.set()

    async def run(self, client: httpx.AsyncClient) -> None:
        """Refreshes every ``interval`` seconds, for ever (the app's lifespan runs and cancels it)."""
        while True:
            started = time.monotonic()
            try:
                with untraced():  # a timer, not anyone's request: no trace
                    await self.refresh(client)
            except Exception as exc:  # the next refresh may succeed; meanwhile entries age honestly
                log.error("platform health refresh failed", exc_info=exc)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def document(self) -> tuple[int, dict]:
        """The HTTP status (503 when anything fails) and the health+json body, from the last
        observations (the first request after start-up waits for the first refresh)."""
        await self._first.wait()
        now = self._now()
        checks = {f"{name}:health": [self._aged(seen, now)] for name, seen in self._observed.items()}
        status = worst(entries[0]["status"] for entries in checks.values())
        body = {
            "status": status,
            "serviceId": SERVICE,
            "version": self.version,
            "description": (
                f"every platform service's /health as the api-gateway last saw it: asked every "
                f"{self.interval:g} s; an entry older than {STALE_INTERVALS} refreshes is stale (warn)"
            ),
            "checks": checks,
        }
        return (503 if status == FAIL else 200), body

    def _aged(self, seen: Observation, now: datetime) -> dict:
        age = max(0.0, (now - seen.at).total_seconds())
        entry = {**seen.entry, "time": _iso(seen.at), "ageSeconds": round(age, 3)}
        if age > STALE_INTERVALS * seen.every:
            entry["status"] = worst([entry["status"], WARN])
            stale = f"stale: observed {age:.0f} s ago, refreshed every {seen.every:g} s"
            entry["output"] = f"{stale}; {entry['output']}" if "output" in entry else stale
        return entry

    async def _own(self) -> Observation:
        results = await self.own_results()
        status = worst(result.status for result in results)
        output = "" if status == PASS else f"the gateway's own /health is {status}"
        # As old as its oldest check: the kit's health loop ran them, not this refresh.
        at = min((result.time for result in results), default=self._now())
        return Observation(_entry(status, None, output), at, self.own_interval)

    async def _fetch(self, client: httpx.AsyncClient, target: Upstream) -> Observation:
        if not target.deployed:
            return Observation(_entry(WARN, None, "not deployed in this build"), self._now(), self.interval)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await client.get(target.url + "/health", timeout=self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            entry = _entry(FAIL, started, f"timed out after {self.timeout:g}s")
        except httpx.HTTPError as exc:
            entry = _entry(FAIL, started, f"unreachable ({type(exc).__name__})")
        else:
            status = _reported_status(answer)
            output = "" if status == PASS else f"GET /health answered {answer.status_code} ({status})"
            entry = _entry(status, started, output)
        return Observation(entry, self._now(), self.interval)


def _reported_status(answer: httpx.Response) -> str:
    """The status the service reports; any answer but 200 is a failure whatever its body says."""
    if answer.status_code != 200:
        return FAIL
    try:
        status = answer.json().get("status")
    except (ValueError, AttributeError):
        return PASS
    return status if status in _SEVERITY else PASS
