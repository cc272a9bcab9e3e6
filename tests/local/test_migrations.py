"""`airscope migrate`'s library: platform-services' schema forward and back on a real PostgreSQL,
through DATABASE_URL as in a production container."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local import LocalError, migrations

pytestmark = pytest.mark.infra

NAME = "mig_platform"
PASSWORD = secrets.token_hex(8)  # made up at run time: no password literal for the secret scan


async def _columns(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'login_failures'"
        )
        return {row["column_name"] for row in rows}
    finally:
        await connection.close()


@pytest.fixture
def database(postgres_server, monkeypatch) -> str:
    """An empty database of its own role, named by DATABASE_URL."""
    postgres_server.ensure_database(NAME, PASSWORD)
    dsn = postgres_server.dsn(NAME, NAME, PASSWORD)

    async def empty() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()

    asyncio.run(empty())
    monkeypatch.setenv(migrations.DATABASE_URL_ENV, dsn)
    return dsn


def test_history_lists_the_revisions_oldest_first_and_the_head_is_the_last():
    revisions = migrations.history()
    assert [r.id for r in revisions][:2] == ["0001", "0002"]
    assert revisions[0].down is None and revisions[1].down == "0001"
    assert all(r.title for r in revisions)
    assert migrations.head() == revisions[-1].id


def test_upgrade_then_downgrade_one_step_and_back(database):
    assert migrations.current() is None
    assert migrations.upgrade() == (None, migrations.head())
    assert "client" in asyncio.run(_columns(database))

    assert migrations.downgrade("0001") == (migrations.head(), "0001")
    assert migrations.current() == "0001"
    assert "client" not in asyncio.run(_columns(database))  # 0002's column is gone

    assert migrations.upgrade("head") == ("0001", migrations.head())
    assert "client" in asyncio.run(_columns(database))


def test_every_revision_goes_down_one_step_at_a_time_and_up_again(database):
    """Each revision's downgrade() undoes its upgrade(): the whole chain down to nothing and back."""
    ids = [r.id for r in migrations.history()]
    migrations.upgrade()
    for revision, below in zip(reversed(ids), [*reversed(ids[:-1]), None], strict=True):
        assert migrations.downgrade("-1") == (revision, below)
    for below, revision in zip([None, *ids[:-1]], ids, strict=True):
        assert migrations.upgrade("+1") == (below, revision)


def test_an_unknown_revision_is_an_error_that_points_at_the_history(database):
    migrations.upgrade()
    with pytest.raises(LocalError, match=r"alembic: .*9999.*airscope migrate history"):
        migrations.downgrade("9999")
    assert migrations.current() == migrations.head()


def test_the_cli_says_where_the_database_is_and_what_it_did(database):
    runner = CliRunner()
    result = runner.invoke(main, ["migrate", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == f"upgraded base -> {migrations.head()}\n"
    result = runner.invoke(main, ["migrate", "current"])
    assert result.output == f"database at {migrations.head()}; code head {migrations.head()}\n"
    below = migrations.history()[-2].id
    result = runner.invoke(main, ["migrate", "downgrade", "-1"])  # a step, not an option
    assert result.output == f"downgraded {migrations.head()} -> {below}\n"
    result = runner.invoke(main, ["migrate", "upgrade", "+1"])
    assert result.output == f"upgraded {below} -> {migrations.head()}\n"
    result = runner.invoke(main, ["migrate", "downgrade", "base"])
    assert result.output == f"downgraded {migrations.head()} -> base\n"
