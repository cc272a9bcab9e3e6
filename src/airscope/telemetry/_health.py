"""Dependency checks and the IETF health+json documents built from them.

Checks run concurrently, each with a timeout; results are cached briefly so that probes cannot
hammer a dependency, and a background loop keeps the health_check_* gauges current for alerting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import CollectorRegistry, Gauge

from airscope.telemetry._redact import redact_text

PASS, WARN, FAIL = "pass", "warn", "fail"
DEFAULT_TIMEOUT = 2.0
DEFAULT_INTERVAL = 10.0
DEFAULT_CACHE_TTL = 1.0


@dataclass(frozen=True)
class Check:
    """One dependency check.

    ``probe`` raises (or times out) when the dependency is unusable. ``critical`` checks are
    dependencies the service is useless without: their failure makes the service ``fail`` (503)
    and not ready; a non-critical failure only makes it ``warn``.
    """

    name: str
    probe: Callable[[], Awaitable[object]]
    critical: bool = True
    component_type: str = "component"
    timeout: float | None = None


@dataclass(frozen=True)
class CheckResult:
    check: Check
    ok: bool
    duration: float
    output: str
    time: datetime

    @property
    def status(self) -> str:
        if self.ok:
            return PASS
        return FAIL if self.check.critical else WARN

    def as_health_json(self) -> dict:
        entry = {
            "componentType": self.check.component_type,
            "status": self.status,
            "observedValue": round(self.duration * 1000, 3),
            "observedUnit": "ms",
            "time": self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if self.output:
            entry["output"] = self.output
        return entry


def overall_status(results: Sequence[CheckResult]) -> str:
    statuses = {r.status for r in results}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


class HealthMonitor:
    def __init__(
        self,
        checks: Sequence[Check],
        *,
        registry: CollectorRegistry,
        timeout: float = DEFAULT_TIMEOUT,
        interval: float = DEFAULT_INTERVAL,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"health check names must be unique, got {names}")
        self.checks = tuple(checks)
        self.timeout = timeout
        self.interval = interval
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._registry = registry
        self._status = Gauge(
            "health_check_status",
            "Result of the last run of a dependency check: 1 pass, 0 fail.",
            ["check"],
            registry=registry,
        )
        self._duration = Gauge(
            "health_check_duration_seconds",
            "Duration of the last run of a dependency check.",
            ["check"],
            registry=registry,
        )
        self._results: list[CheckResult] | None = None
        self._checked_at = float("-inf")
        self._running: asyncio.Task | None = None
        self._loop_task: asyncio.Task | None = None

    async def results(self, *, max_age: float | None = None) -> list[CheckResult]:
        """The latest results, re-run when older than ``max_age`` (default: the cache TTL).

        Concurrent callers share one run, so a burst of probes costs the dependency one check.
        """
        max_age = self.cache_ttl if max_age is None else max_age
        if self._results is not None and self._clock() - self._checked_at <= max_age:
            return self._results
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run_all())
        return await asyncio.shield(self._running)

    async def _run_all(self) -> list[CheckResult]:
        # Checks are bookkeeping, not user work: no spans for the calls they make.
        with suppress_instrumentation():
            results = list(await asyncio.gather(*(self._run(check) for check in self.checks)))
        self._results, self._checked_at = results, self._clock()
        return results

    async def _run(self, check: Check) -> CheckResult:
        timeout = check.timeout or self.timeout
        started = self._clock()
        try:
            async with asyncio.timeout(timeout):
                await check.probe()
            ok, output = True, ""
        except TimeoutError:
            ok, output = False, f"timed out after {timeout:g}s"
        except Exception as exc:
            ok, output = False, redact_text(f"{type(exc).__name__}: {exc}")[:300]
        duration = self._clock() - started
        self._status.labels(check.name).set(1 if ok else 0)
        self._duration.labels(check.name).set(duration)
        return CheckResult(check, ok, duration, output, datetime.now(UTC))

    async def run_forever(self) -> None:
        while True:
            await self.results(max_age=0)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self.checks and self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self.run_forever())

    async def stop(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def unregister(self) -> None:
        self._registry.unregister(self._status)
        self._registry.unregister(self._duration)


def health_document(
    results: Sequence[CheckResult], *, service: str, version: str, commit: str
) -> tuple[int, dict]:
    """The status code and the application/health+json body for these results."""
    status = overall_status(results)
    body = {
        "status": status,
        "serviceId": service,
        "version": version,
        "releaseId": commit,
        "checks": {f"{r.check.name}:responseTime": [r.as_health_json()] for r in results},
    }
    return (503 if status == FAIL else 200), body
