"""Fixtures shared by every test directory: real PostgreSQL and Redis servers, free ports, apps
under uvicorn, the stand-ins, a headless Chromium page, anyio. The helpers behind them are in
``tests.support`` and ``tests.servers``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from airscope.local.postgres import PostgresServer
from airscope.local.redis import RedisServer
from tests import support
from tests.servers import Apps, AppServer, clear_faults, start_airtable_standin, start_llm_standin

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call it for a TCP port nothing listens on right now, and not handed out before."""
    return support.free_port


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
    yield from _kept(PostgresServer, reachable_tmp("postgres"), start=True)


@pytest.fixture(scope="session")
def redis_server(reachable_tmp: Callable[[str], Path]) -> Iterator[RedisServer]:
    """A Redis started for this session; ``.url`` is ``redis://127.0.0.1:PORT/0``."""
    yield from _kept(RedisServer, reachable_tmp("redis"), start=True)


@pytest.fixture
def own_postgres(reachable_tmp: Callable[[str], Path]) -> Iterator[PostgresServer]:
    """A PostgreSQL of the test's own, not started yet: for a test that starts or stops it under a
    service. Stopped after the test."""
    yield from _kept(PostgresServer, reachable_tmp("own-postgres"), start=False)


@pytest.fixture
def own_redis(reachable_tmp: Callable[[str], Path]) -> Iterator[RedisServer]:
    """A Redis of the test's own, not started yet: for a test that starts or stops it under a service.
    Stopped after the test."""
    yield from _kept(RedisServer, reachable_tmp("own-redis"), start=False)


Datastore = TypeVar("Datastore", PostgresServer, RedisServer)


def _kept(kind: type[Datastore], directory: Path, *, start: bool) -> Iterator[Datastore]:
    """A server of ``kind`` with its data in ``directory``, on a free port; stopped at the end."""
    server = kind(directory / "data", support.free_port())
    try:
        if start:
            server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def run_app(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Starts apps as uvicorn subprocesses (see ``tests.servers.Apps``); stopped after the test.

    ``run_app("airscope.services.mcp_server", env={...}, ready_path="/health/ready")``
    """
    with Apps(tmp_path) as apps:
        yield apps.start


@pytest.fixture(scope="module")
def module_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """Apps shared by one test module's tests, stopped after its last."""
    with Apps(tmp_path_factory.mktemp("apps")) as apps:
        yield apps


@pytest.fixture(scope="module")
def airtable_standin(module_apps: Apps) -> AppServer:
    """The Airtable stand-in with its own database, for one test module. A module whose tests set
    faults uses ``airtable_faults_cleared`` too."""
    return start_airtable_standin(module_apps)


@pytest.fixture
def airtable_faults_cleared(airtable_standin: AppServer) -> Iterator[AppServer]:
    """The module's Airtable stand-in, its faults ended after the test (use it with
    ``pytestmark = pytest.mark.usefixtures("airtable_faults_cleared")``)."""
    yield airtable_standin
    clear_faults(airtable_standin)


@pytest.fixture(scope="module")
def llm_standin(module_apps: Apps) -> AppServer:
    """The LLM stand-in, for one test module."""
    return start_llm_standin(module_apps)


@pytest.fixture
def page() -> Iterator[Page]:
    """A page in a real headless Chromium, closed after the test."""
    # Imported here: playwright costs every pytest start-up ~0.2 s, and few tests use a browser.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
