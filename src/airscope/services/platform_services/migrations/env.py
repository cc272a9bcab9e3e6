"""Alembic's environment for platform-services.

The service runs the migrations itself at start-up (``db.migrate``) on a connection it passes in
``config.attributes["connection"]``, inside its own transaction and advisory lock. Run from the
command line (a config whose ``script_location`` is this directory, ``DATABASE_URL`` set), this
opens an async engine of its own.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from airscope.services.platform_services.config import DatabaseSettings
from airscope.services.platform_services.models import Base


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = create_async_engine(DatabaseSettings.from_env().sqlalchemy_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=DatabaseSettings.from_env().sqlalchemy_url, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
elif (given := context.config.attributes.get("connection")) is not None:
    run_on(given)
else:
    asyncio.run(run_standalone())
