"""``airscope backup`` and ``airscope restore FILE``: the local platform's PostgreSQL data, one
pg_dump file (custom format) per service database.

A restore never touches the database it replaces until the dump has been restored in full: it goes
into a fresh database first (``<target>__restoring``, in one transaction, stopping at the first
error), and only then is the old database dropped and the new one renamed in its place. Replacing a
database the services are connected to is refused unless forced: a service would go on with a pool
of connections to a database that is gone.

The client programs are the server's own (``bin_dir``), so a dump is always read by a pg_restore of
the same major version that wrote it; they connect over TCP as the trusted superuser, which works
whether the server runs as us or as the ``postgres`` user (``postgres.py``).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from airscope import catalog
from airscope.catalog import Catalog
from airscope.local import LocalError, paths, runner
from airscope.local.postgres import PostgresServer

SUFFIX = ".dump"
RESTORING = "__restoring"  # the suffix of the database a restore fills before it takes the name
# pg_restore --list prints the database the dump came from in its header.
DUMPED_FROM = re.compile(r"^;\s+dbname:\s+(\S+)\s*$", re.MULTILINE)
TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ", re.MULTILINE)


@dataclass(frozen=True)
class Restored:
    database: str
    source: str  # the database the dump was taken from
    tables: list[str]  # schema.table of every table whose rows the dump held
    replaced: bool  # whether a database of that name existed and was replaced


def databases(cat: Catalog | None = None) -> dict[str, str]:
    """Each service database (named after its service, as ``environment.py`` makes them) -> service."""
    cat = cat or catalog.load()
    return {
        service.name.replace("-", "_"): service.name
        for service in cat.services.values()
        if "postgres" in service.requires
    }


def default_directory() -> Path:
    return paths.home() / "backups"


def server() -> PostgresServer:
    """The local platform's PostgreSQL, or LocalError when it does not answer."""
    postgres = runner.platform().infrastructure.get("postgres")
    if postgres is None:
        raise LocalError("the catalog has no PostgreSQL: nothing to back up or restore")
    try:
        postgres.probe()
    except (OSError, asyncpg.PostgresError) as error:
        raise LocalError(
            f"the local PostgreSQL on 127.0.0.1:{postgres.port} does not answer ({type(error).__name__}): "
            "start the platform with `make up`, or PostgreSQL alone with `airscope start postgres`"
        ) from error
    return postgres


def backup(
    directory: Path | None = None, names: list[str] | None = None, *, postgres: PostgresServer | None = None
) -> list[Path]:
    """Dumps each service database (or only ``names``) into ``directory``, one
    ``<database>-<UTC time>.dump`` file each, readable by the owner only (password hashes, tokens)."""
    postgres = postgres or server()
    wanted = names or list(databases())
    present = asyncio.run(_databases(postgres.dsn()))
    missing = [name for name in wanted if name not in present]
    if missing:
        raise LocalError(
            f"no database {', '.join(missing)} on 127.0.0.1:{postgres.port} (there are: {', '.join(present)})"
        )
    directory = (directory or default_directory()).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written = []
    for name in wanted:
        target = directory / f"{name}-{stamp}{SUFFIX}"
        partial = target.with_name(target.name + ".partial")
        partial.touch(mode=0o600)
        _client(postgres, "pg_dump", "--format=custom", f"--file={partial}", f"--dbname={postgres.dsn(name)}")
        partial.replace(target)  # a dump that stopped half-way never carries the final name
        written.append(target)
    return written


def contents(postgres: PostgresServer, file: Path) -> tuple[str, list[str]]:
    """The database ``file`` was dumped from, and the tables whose rows it holds."""
    if not file.is_file():
        raise LocalError(f"no dump at {file}")
    listing = _client(postgres, "pg_restore", "--list", str(file))
    source = DUMPED_FROM.search(listing)
    if source is None:
        raise LocalError(f"{file} names no database in its header: not a pg_dump custom-format file?")
    tables = [f"{schema}.{table}" for schema, table in TABLE_DATA.findall(listing)]
    return source[1], tables


def restore(
    file: Path, into: str | None = None, force: bool = False, *, postgres: PostgresServer | None = None
) -> Restored:
    """Restores ``file`` into the database it was dumped from, or into ``into``; see the module."""
    postgres = postgres or server()
    source, tables = contents(postgres, file)
    target = into or source
    staging = target + RESTORING
    connected = asyncio.run(_sessions(postgres.dsn(), target))
    if connected and not force:
        service = databases().get(target)
        first = f"stop {service} first (`airscope stop {service}`)" if service else "close them first"
        raise LocalError(
            f"{connected} session(s) are connected to {target}: {first}, or pass --force to cut them off"
        )
    owner = asyncio.run(_owner(postgres.dsn(), target, source))
    asyncio.run(_recreate(postgres.dsn(), staging, owner))
    try:
        _client(
            postgres,
            "pg_restore",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={postgres.dsn(staging)}",
            str(file),
        )
    except LocalError:
        asyncio.run(_drop(postgres.dsn(), staging))
        raise
    replaced = asyncio.run(_swap(postgres.dsn(), staging, target))
    return Restored(database=target, source=source, tables=tables, replaced=replaced)


def _client(postgres: PostgresServer, program: str, *argv: str) -> str:
    result = subprocess.run(
        [str(postgres.bin_dir / program), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LocalError(f"{program} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, timeout=5)


async def _databases(dsn: str) -> list[str]:
    connection = await _connect(dsn)
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1")
        return [row["datname"] for row in rows]
    finally:
        await connection.close()


async def _sessions(dsn: str, database: str) -> int:
    connection = await _connect(dsn)
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
        )
    finally:
        await connection.close()


async def _owner(dsn: str, target: str, source: str) -> str:
    """Who owns the restored database: the owner of the one it replaces; else the role named after
    the dumped database (each service's role is, locally and in compose); else the superuser."""
    connection = await _connect(dsn)
    try:
        owner = await connection.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", target
        )
        if owner is None and await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", source):
            owner = source
        return owner or "postgres"
    finally:
        await connection.close()


async def _ddl(connection: asyncpg.Connection, template: str, *names: str) -> None:
    # format() quotes the identifiers server-side; DDL takes no bind parameters.
    placeholders = ", ".join(f"${n}::text" for n in range(1, len(names) + 1))
    await connection.execute(
        await connection.fetchval(f"SELECT format('{template}', {placeholders})", *names)
    )


async def _recreate(dsn: str, database: str, owner: str) -> None:
    connection = await _connect(dsn)
    try:
        await _ddl(connection, "DROP DATABASE IF EXISTS %I WITH (FORCE)", database)
        await _ddl(connection, "CREATE DATABASE %I OWNER %I", database, owner)
    finally:
        await connection.close()


async def _drop(dsn: str, database: str) -> None:
    connection = await _connect(dsn)
    try:
        await _ddl(connection, "DROP DATABASE IF EXISTS %I WITH (FORCE)", database)
    finally:
        await connection.close()


async def _swap(dsn: str, staging: str, target: str) -> bool:
    """Drops ``target`` (cutting off its sessions) and renames ``staging`` to it; whether it existed."""
    connection = await _connect(dsn)
    try:
        existed = bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target))
        await _ddl(connection, "DROP DATABASE IF EXISTS %I WITH (FORCE)", target)
        await _ddl(connection, "ALTER DATABASE %I RENAME TO %I", staging, target)
        return existed
    finally:
        await connection.close()
