"""Ready-made dependency checks: PostgreSQL, Redis, and another HTTP service."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from airscope.telemetry._health import Check


def postgres_check(target: str | Any, *, name: str = "postgres", critical: bool = True) -> Check:
    """``SELECT 1`` on a new connection from a DSN, or on a connection from an asyncpg pool."""

    async def probe() -> None:
        if isinstance(target, str):
            connection = await asyncpg.connect(target)
            try:
                await connection.fetchval("SELECT 1")
            finally:
                await connection.close()
        else:
            async with target.acquire() as connection:
                await connection.fetchval("SELECT 1")

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

    async def probe() -> None:
        if client is None:
            async with httpx.AsyncClient() as own:
                response = await own.get(url)
        else:
            response = await client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")

    return Check(name=name, probe=probe, critical=critical, component_type="component")
