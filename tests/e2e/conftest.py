"""The whole local platform, as `airscope up` starts it, shared by the end-to-end tests.

Real PostgreSQL, Redis, stand-ins, every service, the exporters, Prometheus and Alertmanager as
processes under supervisord, every port moved to a free one, in a temporary home; started once per
session (about 15 s) and stopped at its end.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airscope import catalog
from airscope.local import observability, ports, runner
from airscope.local.process import group_members
from airscope.local.supervisor import Supervisor

API_KEY = "e2e-test-key"


def eventually(check: Callable[[], object], timeout: float = 30.0) -> object:
    """``check()``'s result once it stops raising AssertionError, retried for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@dataclass(frozen=True)
class Platform:
    home: Path
    urls: dict[str, str]

    def __getitem__(self, service: str) -> str:
        return self.urls[service]

    @property
    def api(self) -> str:
        return self.urls["api-gateway"] + "/api"


@contextlib.contextmanager
def moved_ports_environment(home: Path, free_port: Callable[[], int], **extra: str) -> Iterator[list[str]]:
    """The environment of a local platform in ``home`` with every port moved to a free one and no
    outside setting leaking in; yields the names of its programs."""
    cat = catalog.load()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRSCOPE_HOME", str(home))
        patch.setenv("AIRSCOPE_API_KEY", API_KEY)
        for variable, value in extra.items():
            patch.setenv(variable, value)
        for variable in (
            "AIRSCOPE_CATALOG",
            "AIRSCOPE_TRACE_DIR",
            "AIRSCOPE_JWT_SECRET",
            *(e.url_env for e in cat.external.values()),
        ):
            patch.delenv(variable, raising=False)
        names = [*cat.services, *cat.infrastructure, *(f"standin-{name}" for name in cat.external)]
        names += list(observability.DEFAULT_PORTS)
        for name in names:
            patch.setenv(ports.env_var(name), str(free_port()))
        yield names


def platform_urls(names: list[str]) -> dict[str, str]:
    return {name: f"http://127.0.0.1:{os.environ[ports.env_var(name)]}" for name in names}


@pytest.fixture(scope="session")
def platform(reachable_tmp, free_port) -> Iterator[Platform]:
    home = reachable_tmp("e2e")
    # OTEL_BSP_SCHEDULE_DELAY: spans on disk within the tests' patience.
    with moved_ports_environment(home, free_port, OTEL_BSP_SCHEDULE_DELAY="100") as names:
        try:
            runner.up()
            yield Platform(home=home, urls=platform_urls(names))
        finally:
            supervisor = Supervisor(home)
            names = supervisor.names() if supervisor.running() else []
            started = [pid for name in names if (pid := supervisor.pid(name))]
            runner.down()
        # `airscope down` leaves no process behind: no program, nor anything a program started.
        assert not supervisor.running()
        assert {pid: members for pid in started if (members := group_members(pid))} == {}
