"""The database: an async SQLAlchemy engine that connects on demand, migrations, and query timing.

Nothing connects at start-up: a PostgreSQL that is down then makes /health fail and requests answer
503 until it is back, and the migrations are retried in the background until they have run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from airscope.services.common import ServiceError
from airscope.services.platform_services import metrics
from airscope.services.platform_services.config import Config
from airscope.telemetry import get_logger

log = get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: instances starting together take turns running the migrations.
MIGRATION_LOCK = 7007_0001
MIGRATION_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0

# What a PostgreSQL that is down, restarting or unreachable raises, wrapped by SQLAlchemy or not.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error``, or what caused it, says PostgreSQL cannot be reached right now.

    The cause counts: SQLAlchemy wraps what asyncpg raises while the server shuts down or starts
    up (CannotConnectNowError, an operator intervention) in a plain DBAPIError, not in one of the
    classes above."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OUTAGE_ERRORS) or (
            isinstance(seen, exc.DBAPIError) and seen.connection_invalidated
        ):
            return True
        seen = seen.__cause__
    return False


def unavailable() -> ServiceError:
    return ServiceError(503, "postgres_unavailable", "PostgreSQL is unreachable; try again shortly")


def create_engine(config: Config) -> AsyncEngine:
    return create_async_engine(
        config.sqlalchemy_url,
        pool_size=config.db_pool_size,
        max_overflow=config.db_max_overflow,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        # A connection that died with a PostgreSQL restart is replaced, not handed to a request.
        pool_pre_ping=True,
        # Statement parameters (password hashes, token hashes) stay out of errors and tracebacks.
        hide_parameters=True,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            # Days of the analytics are UTC days, whatever the server's time zone.
            "server_settings": {"timezone": "UTC"},
        },
    )


@contextlib.contextmanager
def timed(operation: str) -> Iterator[None]:
    """Observes the query's duration under ``operation``, one of metrics.DB_OPERATIONS."""
    start = time.perf_counter()
    try:
        yield
    finally:
        metrics.DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - start)


def _upgrade(connection: Connection) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Upgrades the schema to the latest revision; one instance at a time, in one transaction."""
    with timed("migrate"):
        async with engine.connect() as connection, connection.begin():
            # Held until the commit: a second instance waits, then finds the schema up to date.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(_upgrade)


class Database:
    def __init__(self, config: Config) -> None:
        self.engine = create_engine(config)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.connection_limit = config.db_pool_size + config.db_max_overflow
        self.migrated = asyncio.Event()

    async def migrate_until_done(self) -> None:
        """Runs the migrations, retrying while PostgreSQL is unreachable; ready once they ran."""
        attempt = 0
        while True:
            try:
                await migrate(self.engine)
            except Exception as error:
                delay = MIGRATION_RETRY_SECONDS[min(attempt, len(MIGRATION_RETRY_SECONDS) - 1)]
                if is_outage(error):
                    log.warning(
                        "migrations postponed: PostgreSQL unreachable",
                        error=type(error).__name__,
                        retry_in_seconds=delay,
                    )
                else:
                    # Not transient by the look of it (permissions, a broken revision), but an
                    # operator may fix it while we wait: keep trying, stay not ready, say why.
                    log.exception("migrations failed", retry_in_seconds=delay)
                attempt += 1
                await asyncio.sleep(delay)
            else:
                log.info("database schema up to date")
                self.migrated.set()
                return

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A request's session: 503 while the schema is not ready or when
        PostgreSQL fails during the request."""
        if not self.migrated.is_set():
            raise ServiceError(
                503,
                "postgres_unavailable",
                "the database is not ready yet (migrations pending); try again shortly",
            )
        try:
            async with self.sessions() as session:
                yield session
        except Exception as error:
            if is_outage(error):
                raise unavailable() from error
            raise

    async def ping(self) -> None:
        """The health check: ``SELECT 1`` through the pool, and the schema migrated."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        if not self.migrated.is_set():
            raise RuntimeError("migrations not applied yet (retrying)")

    def bind_pool_metrics(self) -> None:
        pool = self.engine.pool
        metrics.DB_POOL_CONNECTIONS.labels("in_use").set_function(pool.checkedout)
        metrics.DB_POOL_CONNECTIONS.labels("idle").set_function(pool.checkedin)
        metrics.DB_POOL_CONNECTIONS_LIMIT.set(self.connection_limit)

    async def close(self) -> None:
        await self.engine.dispose()
