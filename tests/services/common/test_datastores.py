"""The services' PostgreSQL pool against a real PostgreSQL: what a released connection keeps."""

from __future__ import annotations

import uuid

import pytest

from airscope.services.common import datastores

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


async def test_a_connection_released_mid_transaction_comes_back_without_it(postgres_server) -> None:
    schema = datastores.SchemaOnce(
        f"test_{uuid.uuid4().hex[:8]}", ["CREATE TABLE IF NOT EXISTS kept (n int)"]
    )
    pool = await datastores.create_pool(postgres_server.dsn(), schema)
    try:
        connection = await pool.acquire()
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("INSERT INTO kept VALUES (1)")
        await pool.release(connection)  # a bug's path: released without commit or rollback
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM kept WHERE n = 1") == 0
    finally:
        await pool.close()
