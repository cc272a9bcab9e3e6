"""``airscope migrate``: platform-services' schema (Alembic) forward and back, by hand.

platform-services upgrades its schema to the newest revision it knows each time it starts
(``db.migrate``); this module is for the other direction and for looking: which revision a database
is at, which revisions the code knows, and a downgrade before an older version is deployed (an
older version does not know the newer revision, and refuses to start on it).

The database is ``DATABASE_URL`` when set (inside a production container, where the service's own
environment has it), else local mode's platform-services database, as its own role: what a
migration creates stays owned by the role the service connects as.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from airscope.local import LocalError, runner
from airscope.local.environment import kept_secret
from airscope.services.platform_services import db
from airscope.services.platform_services.config import sqlalchemy_url

SERVICE = "platform-services"
DATABASE_URL_ENV = "DATABASE_URL"


@dataclass(frozen=True)
class Revision:
    id: str
    down: str | None
    title: str  # the first line of the revision's docstring


def database_url() -> str:
    """DATABASE_URL, else the local platform-services database as the service's own role."""
    if given := os.environ.get(DATABASE_URL_ENV):
        return given
    plat = runner.platform()
    postgres = plat.infrastructure.get("postgres")
    if postgres is None or SERVICE not in plat.catalog.services:
        raise LocalError(f"no {SERVICE} database in the catalog; set {DATABASE_URL_ENV}")
    name = SERVICE.replace("-", "_")
    return postgres.dsn(name, name, kept_secret(plat.home / "secrets" / f"postgres-{name}"))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    return config


def history() -> list[Revision]:
    """Every revision the code knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [
        Revision(r.revision, r.down_revision, (r.doc or "").splitlines()[0] if r.doc else "")
        for r in reversed(list(script.walk_revisions()))
    ]


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current() -> str | None:
    """The revision the database is at; None before the first migration."""
    return _on_database(lambda connection: MigrationContext.configure(connection).get_current_revision())


def upgrade(revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrades to ``revision``; (before, after)."""
    return _move(command.upgrade, revision)


def downgrade(revision: str) -> tuple[str | None, str | None]:
    """Downgrades to ``revision`` (``base``: no schema at all; ``-1``: one step); (before, after)."""
    return _move(command.downgrade, revision)


def _move(step: Callable[[Config, str], None], revision: str) -> tuple[str | None, str | None]:
    def run(connection: Connection) -> tuple[str | None, str | None]:
        before = MigrationContext.configure(connection).get_current_revision()
        config = _config()
        config.attributes["connection"] = connection  # env.py then runs on it, in our transaction
        step(config, revision)
        return before, MigrationContext.configure(connection).get_current_revision()

    return _on_database(run, lock=True)


def _on_database(work: Callable[[Connection], object], lock: bool = False):
    url = database_url()

    async def go():
        engine = create_async_engine(
            sqlalchemy_url(url), connect_args={"timeout": db.CONNECT_TIMEOUT_SECONDS}
        )
        try:
            async with engine.connect() as connection, connection.begin():
                if lock:  # the lock the service takes to migrate: never both at once
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": db.MIGRATION_LOCK}
                    )
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except CommandError as error:
        raise LocalError(f"alembic: {error} (known revisions: `airscope migrate history`)") from error
    except OSError as error:
        raise LocalError(
            f"the {SERVICE} database does not answer ({error}): is PostgreSQL running?"
        ) from error
