"""`airscope backup` / `restore`'s library against a real PostgreSQL 15: a dump restores the data as
it was, owned by the service's role, and a restore that fails or would pull the database from under
connected clients leaves it as it is."""

from __future__ import annotations

import asyncio
import re
import stat

import asyncpg
import pytest

from airscope.local import LocalError, backup
from airscope.local.postgres import PostgresServer

pytestmark = pytest.mark.infra

NAME = "bk_shop"
PASSWORD = "bk 'secret'"


async def _sql(dsn: str, *statements: str) -> list:
    connection = await asyncpg.connect(dsn)
    try:
        results = []
        for statement in statements:
            results.append(await connection.fetch(statement))
        return results
    finally:
        await connection.close()


def sql(dsn: str, *statements: str) -> list:
    return asyncio.run(_sql(dsn, *statements))


def rows(server: PostgresServer, database: str = NAME) -> list[str]:
    return [r["item"] for r in sql(server.dsn(database), "SELECT item FROM orders ORDER BY id")[0]]


@pytest.fixture
def shop(postgres_server: PostgresServer) -> PostgresServer:
    """A service-like database: its own role owns it and its table, two orders in it."""
    for database in (NAME, f"{NAME}_drill", NAME + backup.RESTORING):
        sql(postgres_server.dsn(), f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    postgres_server.ensure_database(NAME, PASSWORD)
    sql(
        postgres_server.dsn(NAME, NAME, PASSWORD),
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)",
        "INSERT INTO orders (item) VALUES ('tea'), ('coffee')",
    )
    return postgres_server


def test_backup_writes_one_private_custom_format_dump_per_database(shop, tmp_path):
    [dump] = backup.backup(tmp_path / "dumps", [NAME], postgres=shop)

    assert re.fullmatch(rf"{NAME}-\d{{8}}T\d{{6}}Z\.dump", dump.name)
    assert dump.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(dump.parent.stat().st_mode) == 0o700
    assert list(dump.parent.iterdir()) == [dump]  # no .partial left
    assert backup.contents(shop, dump) == (NAME, ["public.orders"])


def test_backup_of_a_database_that_does_not_exist_names_it(shop, tmp_path):
    with pytest.raises(
        LocalError, match=r"no database no_such_db on 127\.0\.0\.1:\d+ \(there are: .*bk_shop"
    ):
        backup.backup(tmp_path, ["no_such_db"], postgres=shop)
    assert list(tmp_path.iterdir()) == []


def test_restore_in_place_brings_back_the_data_as_dumped_owned_by_the_service_role(shop, tmp_path):
    [dump] = backup.backup(tmp_path, [NAME], postgres=shop)
    sql(
        shop.dsn(NAME, NAME, PASSWORD),
        "INSERT INTO orders (item) VALUES ('after the backup')",
        "CREATE TABLE added_later (id int)",
    )

    restored = backup.restore(dump, postgres=shop)

    assert restored == backup.Restored(database=NAME, source=NAME, tables=["public.orders"], replaced=True)
    assert rows(shop) == ["tea", "coffee"]
    # The service's own role still reads and writes it: the database and its table are its own.
    [[owner], [table_owner], tables] = sql(
        shop.dsn(NAME, NAME, PASSWORD),
        "SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = current_database()",
        "SELECT tableowner AS o FROM pg_tables WHERE tablename = 'orders'",
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    )
    assert owner["o"] == table_owner["o"] == NAME
    assert [t["tablename"] for t in tables] == ["orders"]  # what came after the backup is gone
    sql(shop.dsn(NAME, NAME, PASSWORD), "INSERT INTO orders (item) VALUES ('after the restore')")


def test_restore_into_a_scratch_database_leaves_the_original_alone(shop, tmp_path):
    [dump] = backup.backup(tmp_path, [NAME], postgres=shop)
    sql(shop.dsn(NAME), "INSERT INTO orders (item) VALUES ('after the backup')")

    restored = backup.restore(dump, into=f"{NAME}_drill", postgres=shop)

    assert (restored.database, restored.source, restored.replaced) == (f"{NAME}_drill", NAME, False)
    assert rows(shop, f"{NAME}_drill") == ["tea", "coffee"]
    assert rows(shop) == ["tea", "coffee", "after the backup"]
    [[owner]] = sql(
        shop.dsn(), f"SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = '{NAME}_drill'"
    )
    assert owner["o"] == NAME


def test_restore_refuses_while_clients_are_connected_unless_forced(shop, tmp_path):
    [dump] = backup.backup(tmp_path, [NAME], postgres=shop)
    sql(shop.dsn(NAME), "INSERT INTO orders (item) VALUES ('after the backup')")

    async def held() -> None:
        client = await asyncpg.connect(shop.dsn(NAME, NAME, PASSWORD))
        try:
            with pytest.raises(
                LocalError, match=r"1 session\(s\) are connected to bk_shop: close them first"
            ):
                await asyncio.to_thread(backup.restore, dump, postgres=shop)
            assert len(await asyncio.to_thread(rows, shop)) == 3  # untouched
            await asyncio.to_thread(backup.restore, dump, force=True, postgres=shop)
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
                await client.fetchval("SELECT 1")  # cut off
        finally:
            await client.close()

    asyncio.run(held())
    assert rows(shop) == ["tea", "coffee"]


def test_a_restore_that_fails_leaves_the_database_as_it_was(shop, tmp_path):
    [dump] = backup.backup(tmp_path, [NAME], postgres=shop)
    broken = tmp_path / "broken.dump"
    data = dump.read_bytes()
    broken.write_bytes(data[: len(data) - 40])  # the last table's data cut short
    sql(shop.dsn(NAME), "INSERT INTO orders (item) VALUES ('after the backup')")

    with pytest.raises(LocalError, match="pg_restore failed"):
        backup.restore(broken, postgres=shop)

    assert rows(shop) == ["tea", "coffee", "after the backup"]
    [[left]] = sql(
        shop.dsn(), f"SELECT count(*) AS n FROM pg_database WHERE datname = '{NAME}{backup.RESTORING}'"
    )
    assert left["n"] == 0


def test_a_file_that_is_no_dump_is_refused_before_anything_changes(shop, tmp_path):
    text = tmp_path / "notes.dump"
    text.write_text("not a dump\n")
    with pytest.raises(LocalError, match="pg_restore failed"):
        backup.restore(text, postgres=shop)
    with pytest.raises(LocalError, match="no dump at"):
        backup.restore(tmp_path / "missing.dump", postgres=shop)
    assert rows(shop) == ["tea", "coffee"]
