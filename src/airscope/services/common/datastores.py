"""What the services do alike with their datastores: a PostgreSQL pool that connects on demand and
creates its schema once, ``jsonb`` read and written as JSON, and a datastore that fails mid-request
answered 503 naming it (like its check in /health).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import orjson
import redis.exceptions

from airscope.services.common.errors import ServiceError

# A statement of a schema, with its arguments when it has any.
Statement = str | tuple[str, Sequence[Any]]

POSTGRES_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class SchemaOnce:
    """Runs the schema's statements on the first connection that works, once per process; an
    advisory lock named ``lock`` keeps instances starting together from racing on the catalog."""

    def __init__(self, lock: str, statements: Sequence[Statement]) -> None:
        self._lock_name = lock
        self._statements = statements
        self._lock = asyncio.Lock()
        self._done = False

    async def ensure(self, connection: asyncpg.Connection) -> None:
        if self._done:
            return
        async with self._lock:
            if self._done:
                return
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._lock_name)
                for statement in self._statements:
                    sql, args = (statement, ()) if isinstance(statement, str) else statement
                    await connection.execute(sql, *args)
            self._done = True


async def json_codec(connection: asyncpg.Connection) -> None:
    """``jsonb`` columns read and written as JSON values (orjson), not text."""
    await connection.set_type_codec(
        "jsonb", encoder=lambda value: orjson.dumps(value).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


async def create_pool(dsn: str, schema: SchemaOnce) -> asyncpg.Pool:
    """A pool that connects on demand: a PostgreSQL that is down when the service starts makes
    /health fail and requests answer 503 until it is back, instead of a process that cannot start."""

    async def init(connection: asyncpg.Connection) -> None:
        await json_codec(connection)
        await schema.ensure(connection)

    return await asyncpg.create_pool(dsn, min_size=0, max_size=10, init=init, reset=_rollback_if_open)


async def _rollback_if_open(connection: asyncpg.Connection) -> None:
    # asyncpg's default reset on release (unlock advisory locks, UNLISTEN, RESET ALL, CLOSE ALL) was a
    # round trip and a span per request, for session state the services never keep: their advisory
    # locks are transaction-scoped, they LISTEN to nothing and SET nothing. An open transaction is all
    # a released connection can carry.
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


@contextlib.contextmanager
def postgres_errors() -> Iterator[None]:
    """PostgreSQL failing mid-request answers 503 naming it."""
    try:
        yield
    except POSTGRES_ERRORS as exc:
        raise ServiceError(
            503, "postgres_unavailable", "PostgreSQL is unreachable; try again shortly"
        ) from exc


@contextlib.contextmanager
def dependency_errors() -> Iterator[None]:
    """Redis or PostgreSQL failing mid-request answers 503 naming the one that failed."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise ServiceError(503, "redis_unavailable", "Redis is unreachable; try again shortly") from exc
    except POSTGRES_ERRORS as exc:
        raise ServiceError(
            503, "postgres_unavailable", "PostgreSQL is unreachable; try again shortly"
        ) from exc
