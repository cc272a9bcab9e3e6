from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

from airscope.local import LocalError
from airscope.local.postgres import PostgresServer
from airscope.local.process import group_members

pytestmark = pytest.mark.infra


@pytest.mark.anyio
async def test_the_session_server_takes_superuser_connections(postgres_server):
    connection = await asyncpg.connect(postgres_server.dsn())
    try:
        assert await connection.fetchval("SELECT current_user") == "postgres"
        assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
    finally:
        await connection.close()


@pytest.mark.anyio
async def test_ensure_database_is_idempotent_and_the_role_needs_its_password(postgres_server):
    postgres_server.ensure_database("svc_orders", "first 'secret'")
    postgres_server.ensure_database("svc_orders", "second 'secret'")

    connection = await asyncpg.connect(postgres_server.dsn("svc_orders", "svc_orders", "second 'secret'"))
    try:
        assert (
            await connection.fetchval("SELECT current_database() || '/' || current_user")
            == "svc_orders/svc_orders"
        )
        owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        assert await connection.fetchval(owner) == "svc_orders"
    finally:
        await connection.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(postgres_server.dsn("svc_orders", "svc_orders", "first 'secret'"))


def test_start_is_idempotent_stop_leaves_no_process_and_data_stays(reachable_tmp, free_port):
    server = PostgresServer(reachable_tmp("pg-lifecycle") / "data", free_port())
    try:
        server.start()
        pid = server.process.pid()
        server.ensure_database("kept", "pw")
        server.start()
        assert server.process.pid() == pid

        assert server.stop() == pid
        assert not server.is_running()
        assert group_members(pid) == []
        assert server.stop() is None

        server.start()  # the same cluster: the role and database made before the stop are there
        assert asyncio.run(_current_database(server.dsn("kept", "kept", "pw"))) == "kept"
    finally:
        server.stop()


async def _current_database(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval("SELECT current_database()")
    finally:
        await connection.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres user")
def test_a_data_dir_the_postgres_user_cannot_reach_is_named(reachable_tmp, free_port):
    closed = reachable_tmp("closed") / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(LocalError) as caught:
        PostgresServer(closed / "pg" / "data", free_port()).start()
    assert f"cannot enter {closed}." in str(caught.value)
    assert "AIRSCOPE_HOME" in str(caught.value)
