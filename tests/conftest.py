"""Fixtures shared by every test directory: real PostgreSQL and Redis servers, free ports, anyio."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airscope.local.postgres import PostgresServer
from airscope.local.redis import RedisServer
from tests.servers import AppServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


_handed_out: set[int] = set()


def _free_port() -> int:
    # The kernel may hand the same free port out twice before anyone listens on it: a platform
    # asking for twenty ports at once then gets a collision. Never give one out twice.
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call it for a TCP port nothing listens on right now, and not handed out before."""
    return _free_port


@pytest.fixture(scope="session")
def reachable_tmp() -> Iterator[Callable[[str], Path]]:
    """Makes temporary directories (0755) outside pytest's 0700 basetemp, so that the postgres
    user can reach a cluster in them when the tests run as root; removed at the end of the session."""
    made: list[Path] = []

    def make(prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"airscope-{prefix}-"))
        path.chmod(0o755)
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(reachable_tmp: Callable[[str], Path]) -> Iterator[PostgresServer]:
    """A PostgreSQL started for this session; ``.dsn()`` is the trusted superuser's on ``postgres``."""
    server = PostgresServer(reachable_tmp("postgres") / "data", _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(reachable_tmp: Callable[[str], Path]) -> Iterator[RedisServer]:
    """A Redis started for this session; ``.url`` is ``redis://127.0.0.1:PORT/0``."""
    server = RedisServer(reachable_tmp("redis") / "data", _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def run_app(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Starts apps as uvicorn subprocesses (see ``tests.servers.AppServer``); stopped after the test.

    ``run_app("airscope.services.mcp_server", env={...}, ready_path="/health/ready")``
    """
    started: list[AppServer] = []

    def run(
        module: str,
        *,
        env: dict[str, str] | None = None,
        ready_path: str = "/health/ready",
        port: int | None = None,
    ) -> AppServer:
        server = AppServer(
            module, port or _free_port(), env=env, log_dir=tmp_path / "logs", ready_path=ready_path
        )
        server.start()
        started.append(server)
        return server

    yield run
    for server in reversed(started):
        server.stop()
