"""A PostgreSQL 15 cluster of our own, run as a plain background process on 127.0.0.1.

Authentication: the superuser ``postgres`` is trusted on the unix socket and on 127.0.0.1
(a local development cluster, reachable from this machine only); every other role, such as a
service's own, logs in with its password (scram-sha-256).

PostgreSQL refuses to run as root, so as root initdb and the server run as the ``postgres``
system user (set uid/gid at exec, as runuser does, with no process in between: the pid we record
is the postmaster's), and the data and socket directories are chowned to it. A checkout that user
cannot enter (any clone under /root, or under ``mktemp -d``) cannot hold its cluster: with
``relocate=True`` (``airscope up``) the cluster then lives under ``ELSEWHERE`` instead, and the data
directory asked for becomes a symbolic link to it, which is how later commands find it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import signal
import subprocess
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from airscope.local import LocalError
from airscope.local.paths import HOME_ENV
from airscope.local.process import Background, Server, as_user, progress

DEFAULT_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # the OS user that runs the server when we are root
# Persistent (not /tmp or /var/tmp, whose old files are cleaned away) and open to every user.
ELSEWHERE = Path("/var/lib/airscope")

PG_HBA = f"""\
# Written by airscope.local.postgres: superuser trusted from this machine, everyone else by password.
local all {SUPERUSER} trust
host  all {SUPERUSER} 127.0.0.1/32 trust
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
"""


class PostgresServer(Server):
    stop_signal = signal.SIGINT  # fast shutdown: sessions end, a checkpoint is written
    stop_timeout = 30.0

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        run_dir: Path | None = None,
        log_dir: Path | None = None,
        bin_dir: Path = DEFAULT_BIN_DIR,
        ready_timeout: float = 60.0,
        relocate: bool = False,
    ) -> None:
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self.wanted_dir = Path(data_dir).absolute()
        self.data_dir = self._placed(self.wanted_dir) if relocate else self.wanted_dir
        run_dir = Path(run_dir or self.wanted_dir.parent).absolute()
        socket_parent = run_dir if self.data_dir == self.wanted_dir else self.data_dir.parent
        self.socket_dir = socket_parent / "postgres-socket"
        self.bin_dir = bin_dir
        process = Background(
            "postgres",
            run_dir / "postgres.pid",
            Path(log_dir or self.wanted_dir.parent).absolute() / "postgres.log",
        )
        super().__init__(process, port, ready_timeout)

    @property
    def relocated(self) -> bool:
        """True when the cluster lives under ``ELSEWHERE``, not where it was asked for."""
        return self.data_dir != self.wanted_dir

    def _placed(self, wanted: Path) -> Path:
        """Where the cluster asked for in ``wanted`` lives: there, unless the server's user cannot
        reach it; then under ``ELSEWHERE``, named after ``wanted`` so that every command finds the same."""
        if wanted.is_symlink():  # an earlier `up` moved it
            return wanted.resolve()
        if self._user is None or (wanted / "PG_VERSION").exists() or not self._blocked(wanted):
            return wanted
        return ELSEWHERE / hashlib.sha256(str(wanted).encode()).hexdigest()[:12] / "postgres"

    def _blocked(self, directory: Path) -> Path | None:
        """The first directory on the way to ``directory`` (itself included) that the server's user
        cannot enter; None when it can enter all that exists (what is made below is made open enough)."""
        for step in (*reversed(directory.parents), directory):
            if not step.exists():
                return None
            if self._as_server_user("test", "-x", str(step)).returncode:
                return step
        return None

    def __repr__(self) -> str:
        return f"PostgresServer({str(self.data_dir)!r}, port={self.port})"

    def dsn(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """A libpq/asyncpg URL; without a password it is the trusted superuser's."""
        secret = f":{quote(password, safe='')}" if password is not None else ""
        return f"postgresql://{quote(user, safe='')}{secret}@127.0.0.1:{self.port}/{quote(database, safe='')}"

    def _launch(self) -> None:
        self.prepare()
        self.process.start(self.argv(), cwd=self.data_dir, user=self.user, port=self.port)

    def prepare(self) -> None:
        """The directories, owned by the server's user, and the cluster when there is none."""
        if self.relocated:
            self._link_relocated()
        self._prepare_directories()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    def argv(self) -> list[str]:
        """The server's command line (run it from the data directory, as ``user``)."""
        return [
            str(self.bin_dir / "postgres"),
            *("-D", str(self.data_dir), "-p", str(self.port), "-k", str(self.socket_dir)),
            *("-c", "listen_addresses=127.0.0.1"),
        ]

    @property
    def user(self) -> str | None:
        """The system user the server runs as: ``postgres`` when we are root (it refuses root)."""
        return self._user

    def ensure_database(self, name: str, password: str) -> None:
        """A login role ``name`` with ``password`` and a database ``name`` owned by it; idempotent."""
        _run(_ensure_database(self.dsn(), name, password))

    def probe(self) -> None:
        """Raises unless the server takes connections."""
        _run(_select_one(self.dsn()))

    def _prepare_directories(self) -> None:
        for directory in (self.data_dir, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(directory, entry.pw_uid, entry.pw_gid)
            directory.chmod(0o700)  # the server refuses a data directory others can read
        if self._user is not None:
            for directory in (self.data_dir, self.socket_dir):
                self._check_reachable(directory)

    def _link_relocated(self) -> None:
        """Makes ``ELSEWHERE``'s directory (open to the server's user) and points the data directory
        asked for at it, once."""
        base = self.data_dir.parent
        for directory in (ELSEWHERE, base):
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            directory.chmod(0o755)
        (base / "origin").write_text(f"the PostgreSQL cluster of {self.wanted_dir}\n")
        if self.wanted_dir.is_symlink():
            return
        if self.wanted_dir.is_dir():
            self.wanted_dir.rmdir()  # empty, or it would hold a cluster: left by an earlier failed start
        self.wanted_dir.parent.mkdir(parents=True, exist_ok=True)
        self.wanted_dir.symlink_to(self.data_dir, target_is_directory=True)
        reused = " (the one made before for this checkout)" if (self.data_dir / "PG_VERSION").exists() else ""
        print(
            f"PostgreSQL's data goes to {self.data_dir}{reused}: the {self._user} user cannot enter "
            f"{self._blocked(self.wanted_dir)}; {self.wanted_dir} links to it",
            file=sys.stderr,
        )

    def _check_reachable(self, directory: Path) -> None:
        if self._as_server_user("test", "-w", str(directory)).returncode == 0:
            return
        blocked = self._blocked(directory) or directory
        raise LocalError(
            f"PostgreSQL cannot run from {directory}: it runs as the {self._user!r} user (it refuses root), "
            f"which cannot enter {blocked}. Set {HOME_ENV} to a directory that user can reach "
            f"(e.g. {HOME_ENV}=/var/tmp/airscope), or open {blocked} to it (chmod o+x {blocked})."
        )

    def _initdb(self) -> None:
        with progress(f"creating the PostgreSQL cluster in {self.data_dir}"):
            result = self._as_server_user(
                str(self.bin_dir / "initdb"),
                *("-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust"),
                *("--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"),
            )
            if result.returncode != 0:
                raise LocalError(f"initdb failed for {self.data_dir}:\n{result.stdout.strip()}")
            hba = self.data_dir / "pg_hba.conf"
            hba.write_text(PG_HBA)
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(hba, entry.pw_uid, entry.pw_gid)

    def _as_server_user(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd="/",
            **as_user(self._user),
        )


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine to completion from sync code, even when the caller's thread runs an event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _select_one(dsn: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()


async def _ensure_database(dsn: str, name: str, password: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        # format() quotes the identifier and the literal server-side; DDL takes no bind parameters.
        role_exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
        verb = "ALTER" if role_exists else "CREATE"  # ALTER keeps the password what the caller says
        await connection.execute(
            await connection.fetchval(
                f"SELECT format('{verb} ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", name, password
            )
        )
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(
                await connection.fetchval(
                    "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $1::text)", name
                )
            )
    finally:
        await connection.close()
