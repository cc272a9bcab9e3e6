"""Ready-made dependency checks: PostgreSQL, Redis, and another HTTP service."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from airscope.telemetry._health import Check


def postgres_check(target: str | Any, *, name: str = "postgres", critical: bool = True) -> Check:
    """``SELECT 1`` on a connection from an asyncpg pool, or on one connection the check keeps to a
    DSN: opening a connection per probe cost PostgreSQL a backend process every time /health was
    asked (every 2 s by the gateway). A connection that fails is dropped and the next probe opens
    a new one, so a restarted PostgreSQL is seen as soon as it is back."""
    kept: list = []

    async def probe() -> None:
        if not isinstance(target, str):
            async with target.acquire() as connection:
                await connection.fetchval("SELECT 1")
            return
        if not kept or kept[0].is_closed():
            kept[:] = [await asyncpg.connect(target)]
        try:
            await kept[0].fetchval("SELECT 1")
        except BaseException:
            connection = kept.pop()
            connection.terminate()
            raise

    return Check(name=name, probe=probe, critical=critical, component_type="datastore")


def redis_check(client: Any, *, name: str = "redis", critical: bool = True) -> Check:
    """``PING`` through a redis.asyncio client (its pool is reused, its failures surface)."""

    async def probe() -> None:
        await client.ping()

    return Check(name=name, probe=probe, critical=critical, component_type="datastore")


def http_check(
    name: str, base_url: str, *, client: httpx.AsyncClient | None = None, critical: bool = True
) -> Check:
    """Another service is alive: its ``/health/live`` answers 200.

    Its liveness, not its readiness, so that one failing dependency deep in the graph is reported
    once, by the service that owns it, rather than by every caller up the chain.
    """
    url = base_url.rstrip("/") + "/health/live"
    # Without a client of the service's, the check keeps one of its own: a new client per probe
    # built a TLS context each time (25 ms of CPU).
    own: list[httpx.AsyncClient] = [] if client is None else [client]

    async def probe() -> None:
        if not own:
            own.append(httpx.AsyncClient())
        response = await own[0].get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")

    return Check(name=name, probe=probe, critical=critical, component_type="component")
