"""``GET /api/health``: the whole platform's health in one application/health+json document.

Every catalog service's ``/health`` is fetched concurrently with a short timeout; the document's
status is the worst of them, so one look (or one probe) tells whether the platform is whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime

import httpx

from airscope.services.api_gateway.config import SERVICE, Upstream

PASS, WARN, FAIL = "pass", "warn", "fail"
_SEVERITY = {PASS: 0, WARN: 1, FAIL: 2}


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_SEVERITY.__getitem__, default=PASS)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entry(status: str, started: float | None, output: str = "") -> dict:
    entry: dict = {"componentType": "component", "status": status}
    if started is not None:
        entry["observedValue"] = round((time.perf_counter() - started) * 1000, 3)
        entry["observedUnit"] = "ms"
    if output:
        entry["output"] = output
    entry["time"] = _now()
    return entry


class PlatformHealth:
    def __init__(
        self,
        targets: Mapping[str, Upstream],
        *,
        timeout: float,
        own_status: Callable[[], Awaitable[str]],
        version: str,
    ) -> None:
        self.targets = targets
        self.timeout = timeout
        self.own_status = own_status  # the gateway's own /health, asked in-process rather than over HTTP
        self.version = version

    async def document(self, client: httpx.AsyncClient) -> tuple[int, dict]:
        """The HTTP status (503 when anything fails) and the health+json body."""
        names = [SERVICE, *self.targets]
        entries = await asyncio.gather(
            self._own(), *(self._fetch(client, target) for target in self.targets.values())
        )
        status = worst(entry["status"] for entry in entries)
        body = {
            "status": status,
            "serviceId": SERVICE,
            "version": self.version,
            "description": "every platform service's /health, as the api-gateway sees it",
            "checks": {f"{name}:health": [entry] for name, entry in zip(names, entries, strict=True)},
        }
        return (503 if status == FAIL else 200), body

    async def _own(self) -> dict:
        started = time.perf_counter()
        status = await self.own_status()
        return _entry(status, started, "" if status == PASS else f"the gateway's own /health is {status}")

    async def _fetch(self, client: httpx.AsyncClient, target: Upstream) -> dict:
        if not target.deployed:
            return _entry(WARN, None, "not deployed in this build")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await client.get(target.url + "/health", timeout=self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            return _entry(FAIL, started, f"timed out after {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return _entry(FAIL, started, f"unreachable ({type(exc).__name__})")
        status = _reported_status(answer)
        output = "" if status == PASS else f"GET /health answered {answer.status_code} ({status})"
        return _entry(status, started, output)


def _reported_status(answer: httpx.Response) -> str:
    """The status the service reports; any answer but 200 is a failure whatever its body says."""
    if answer.status_code != 200:
        return FAIL
    try:
        status = answer.json().get("status")
    except (ValueError, AttributeError):
        return PASS
    return status if status in _SEVERITY else PASS
