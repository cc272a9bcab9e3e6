"""The whole local platform, as `airscope up` starts it, shared by the end-to-end tests.

Real PostgreSQL, Redis, stand-ins, every service, the exporters, Prometheus and Alertmanager as
processes under supervisord, every port moved to a free one, in a temporary home; started once per
session (about 15 s) and stopped at its end.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from airscope import catalog
from airscope.local import load, observability, runner
from airscope.local.process import group_members
from airscope.local.supervisor import Supervisor
from tests.support import moved_ports

API_KEY = "e2e-test-key"
# The e2e modules that run after all the others, in this order. The console draws the SLO dashboard,
# whose budgets exist once the platform is two minutes old: late, it need not wait for them. The
# drills and training spend error budget, and the budget alerts they raise (a 1h window) fire for
# minutes after each drill heals, while the tests before them want a platform with nothing firing.
LAST = ("test_console.py", "test_drills.py", "test_training.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    e2e = [i for i, item in enumerate(items) if Path(__file__).parent in item.path.parents]
    if not e2e:
        return
    block = items[e2e[0] : e2e[-1] + 1]
    rank = {name: n + 1 for n, name in enumerate(LAST)}
    # sorted() is stable: every other module keeps its place, the LAST ones move to the block's end.
    items[e2e[0] : e2e[-1] + 1] = sorted(block, key=lambda item: rank.get(item.path.name, 0))


@dataclass(frozen=True)
class RunningPlatform:
    """The URLs of the local platform the e2e tests share (runner.Platform is its plan)."""

    home: Path
    urls: dict[str, str]

    def __getitem__(self, service: str) -> str:
        return self.urls[service]

    @property
    def api(self) -> str:
        return self.urls["api-gateway"] + "/api"


def known_load(platform: RunningPlatform, rps: float, seconds: float) -> tuple[Counter, str]:
    """`airscope load` through the gateway, then a chat: the requests answered by (method, route,
    status), the chat's included, and the chat's trace id (its trace goes through every AI service)."""
    tally = load.send(platform["api-gateway"], API_KEY, rps, seconds)
    answer = httpx.post(
        platform.api + "/chat",
        headers={"X-API-Key": API_KEY},
        json={"message": "List the tables in my base"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    sent = Counter()
    for (method, route, status, _), n in tally.counts.items():
        if status is not None:
            sent[(method, route, status)] += n
    sent[("POST", "/api/chat", 200)] += 1
    return sent, answer.headers["x-trace-id"]


@contextlib.contextmanager
def local_platform(home: Path, **extra: str) -> Iterator[RunningPlatform]:
    """A local platform in ``home`` as `airscope up` starts it, every port moved to a free one and
    no outside setting leaking in; stopped on the way out."""
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
        programs = [*cat.services, *cat.infrastructure, *(f"standin-{name}" for name in cat.external)]
        urls = moved_ports(patch, [*programs, *observability.DEFAULT_PORTS])
        try:
            runner.up()
            yield RunningPlatform(home=home, urls=urls)
        finally:
            runner.down()


@pytest.fixture(scope="session")
def platform(reachable_tmp) -> Iterator[RunningPlatform]:
    supervisor = Supervisor(reachable_tmp("e2e"))
    # OTEL_BSP_SCHEDULE_DELAY: spans on disk within the tests' patience.
    with local_platform(supervisor.home, OTEL_BSP_SCHEDULE_DELAY="100") as platform:
        yield platform
        names = supervisor.names() if supervisor.running() else []
        started = [pid for name in names if (pid := supervisor.pid(name))]
    # `airscope down` leaves no process behind: no program, nor anything a program started.
    assert not supervisor.running()
    assert {pid: members for pid in started if (members := group_members(pid))} == {}
