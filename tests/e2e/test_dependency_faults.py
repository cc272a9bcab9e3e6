"""Faults under load on a platform of this module's own: PostgreSQL restarted, Redis restarted, a
service killed. A steady stream of requests goes through the gateway the whole time, each recorded
as (when, route, status).

- A datastore restarted: requests fail only from its stop to a few seconds after it is back, and
  with 503s that name it; no service restarts (their pools reconnect); /health says 503 with the
  datastore's check failing while it is down, 200 once it is back.
- saga-orchestrator killed (SIGKILL): its routes answer 502/503 quickly while it is gone, every
  other route keeps answering 200; supervisord starts it again; the sagas it was driving are resumed
  by the new process and end completed or compensated.

The fault figures are printed (run with ``-s`` to see them); the goals are there, the assertions
keep generous margins.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from airscope import catalog
from airscope.local import runner
from airscope.local.supervisor import Supervisor
from airscope.standins.airtable.seed import BASE_ID
from tests.e2e.conftest import RunningPlatform, local_platform
from tests.support import wait_until

pytestmark = pytest.mark.infra

# Sagas abandoned by a killed process are resumed once their lease lapses: short, so the test is.
LEASE_SECONDS = 6
DOWN_SECONDS = 5.0  # how long a datastore stays stopped
SETTLE_SECONDS = 10.0  # errors allowed after a datastore (or a service) is back
QUIET_SECONDS = 12.0  # load kept running after that, in which no request may fail
GATEWAY_TIMEOUT_SECONDS = 10.0  # api_gateway.config.DEFAULT_TIMEOUT
SAGA_ROUTES = "/api/sagas"
FINISHED = ("completed", "compensated")


@pytest.fixture(scope="module")
def faulty(reachable_tmp) -> Iterator[RunningPlatform]:
    """A whole local platform for this module alone: its faults must not reach the shared one."""
    with local_platform(reachable_tmp("faults"), SAGA_LEASE_SECONDS=str(LEASE_SECONDS)) as platform:
        yield platform


# --- the load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    began: float  # time.monotonic()
    ended: float
    route: str
    status: int | None  # None: no answer at all (refused, reset, timed out)
    body: str

    @property
    def failed(self) -> bool:
        return self.status is None or not 200 <= self.status < 300


Call = Callable[[httpx.Client], httpx.Response]


class Load:
    """One thread per route, each sending its request every ``every`` seconds (closed loop: a route
    that hangs shows as one long request, not a pile of them) and recording every answer."""

    def __init__(self, gateway: str, headers: dict[str, str], routes: dict[str, tuple[Call, float]]) -> None:
        self.gateway = gateway
        self.headers = headers
        self.routes = routes
        self.sent: list[Sent] = []
        self.sagas: list[str] = []  # the ids of the sagas this load started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, args=(route, call, every), daemon=True)
            for route, (call, every) in routes.items()
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _send(self, route: str, call: Call, every: float) -> None:
        # Above the gateway's own upstream timeout: its 504 must come through, not a client timeout.
        with httpx.Client(base_url=self.gateway, headers=self.headers, timeout=30) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    response = call(client)
                    status, body = response.status_code, response.text[:200]
                except httpx.HTTPError as exc:
                    response, status, body = None, None, repr(exc)
                sent = Sent(began, time.monotonic(), route, status, body)
                with self._lock:
                    self.sent.append(sent)
                    if response is not None and status == 202 and route.startswith("POST " + SAGA_ROUTES):
                        self.sagas.append(response.json()["id"])
                self._stop.wait(max(0.0, every - (sent.ended - began)))

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def answered_everywhere(self) -> bool:
        """Every route has answered a success: normal traffic is flowing."""
        return {s.route for s in self.snapshot() if not s.failed} == set(self.routes)


@dataclass(frozen=True)
class User:
    headers: dict[str, str]
    email: str
    password: str
    session_id: str


@pytest.fixture(scope="module")
def user(faulty: RunningPlatform) -> User:
    """A registered user with a bearer token, and a chat session of theirs to read back."""
    email, password = f"faults-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
    registered = httpx.post(
        faulty.api + "/auth/register", json={"email": email, "password": password}, timeout=10
    )
    assert registered.status_code == 201, registered.text
    login = httpx.post(faulty.api + "/auth/login", json={"email": email, "password": password}, timeout=10)
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    chat = httpx.post(faulty.api + "/chat", json={"message": "Hello"}, headers=headers, timeout=70)
    assert chat.status_code == 200, chat.text
    return User(headers, email, password, chat.json()["session_id"])


def routes(user: User, *, sagas: bool = True) -> dict[str, tuple[Call, float]]:
    """What the load sends: routes on PostgreSQL (accounts, sagas, workflows, chat history), on Redis
    (every request's rate limit, the Airtable read cache, the chat session cache), and new sagas."""
    chosen: dict[str, tuple[Call, float]] = {
        "POST /api/auth/login": (
            lambda c: c.post("/api/auth/login", json={"email": user.email, "password": user.password}),
            1.0,  # a password hash each: keep the CPU for the rest
        ),
        "GET /api/auth/me": (lambda c: c.get("/api/auth/me"), 0.5),
        "GET /api/sagas": (lambda c: c.get("/api/sagas", params={"limit": 5}), 0.5),
        "GET /api/automation/workflows": (lambda c: c.get("/api/automation/workflows"), 0.5),
        "GET /api/airtable/bases/{base}/tables": (
            lambda c: c.get(f"/api/airtable/bases/{BASE_ID}/tables"),
            0.5,
        ),
        "GET /api/chat/sessions/{id}": (lambda c: c.get(f"/api/chat/sessions/{user.session_id}"), 0.5),
    }
    if sagas:
        chosen["POST /api/sagas/onboarding"] = (
            lambda c: c.post("/api/sagas/onboarding", json={"workspace_name": f"ws {uuid.uuid4().hex[:8]}"}),
            2.0,
        )
    return chosen


# --- what the tests look at -------------------------------------------------------------------------


def service_pids(sup: Supervisor) -> dict[str, int | None]:
    return {name: sup.pid(name) for name in catalog.load().services}


def health(url: str) -> tuple[int, dict[str, str]]:
    """A service's /health status code and each check's status."""
    response = httpx.get(url + "/health", timeout=10)
    checks = {name.split(":")[0]: entries[0]["status"] for name, entries in response.json()["checks"].items()}
    return response.status_code, checks


def assert_health(url: str, check: str, *, up: bool, timeout: float) -> float:
    """Waits until /health tells ``check`` is up (200) or down (503, the check failing); answers
    how long that took."""
    began = time.monotonic()

    def told() -> bool:
        status, checks = health(url)
        assert (status, checks[check]) == ((200, "pass") if up else (503, "fail")), (url, status, checks)
        return True

    wait_until(told, timeout=timeout, interval=0.5, message=f"{url}/health on {check}")
    return time.monotonic() - began


def saga(platform: RunningPlatform, headers: dict[str, str], saga_id: str) -> dict:
    response = httpx.get(f"{platform.api}/sagas/{saga_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def assert_sagas_end(
    platform: RunningPlatform, headers: dict[str, str], ids: list[str], timeout: float
) -> float:
    """Every saga of ``ids`` ends completed or compensated (none left running, none failed);
    answers how long the last one took from now."""
    began = time.monotonic()

    def ended() -> bool:
        states = {saga_id: saga(platform, headers, saga_id)["status"] for saga_id in ids}
        unfinished = {i: s for i, s in states.items() if s not in FINISHED}
        assert not unfinished, unfinished
        return True

    wait_until(ended, timeout=timeout, interval=0.5, message="the sagas ended")
    return time.monotonic() - began


@dataclass(frozen=True)
class Window:
    """A fault's moments (monotonic seconds): stopped at ``fault``, back and healthy at ``back``."""

    fault: float
    back: float

    def outside(self, sent: list[Sent], settle: float = SETTLE_SECONDS) -> list[Sent]:
        """Failed requests that ended before the fault or began later than ``settle`` after it."""
        return [s for s in sent if s.failed and (s.ended < self.fault or s.began > self.back + settle)]


def figures(fault: str, window: Window, sent: list[Sent], **more: float) -> dict[str, float]:
    failed = [s for s in sent if s.failed]
    numbers = {
        "requests": len(sent),
        "errors": len(failed),
        "outage_s": window.back - window.fault,
        # From the first failed answer to the last one.
        "error_window_s": (max(s.ended for s in failed) - min(s.began for s in failed)) if failed else 0.0,
        # From the dependency being back to the last failed answer (<= 0: none after it was back).
        "recovery_after_back_s": (max(s.ended for s in failed) - window.back) if failed else 0.0,
        **more,
    }
    print(
        f"\nFIGURES {fault}: "
        + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
    )
    return numbers


def restart_datastore(
    faulty: RunningPlatform, user: User, name: str, health_url: str
) -> tuple[Window, Load, dict[str, float]]:
    """Stops ``name`` under load for DOWN_SECONDS, starts it again, and keeps the load up until
    QUIET_SECONDS past the allowed settling; answers the window, the load, and health timings."""
    sup = Supervisor(faulty.home)
    pids = service_pids(sup)
    assert_health(health_url, name, up=True, timeout=30)
    server = runner.platform().infrastructure[name]
    with Load(faulty["api-gateway"], user.headers, routes(user)) as load:
        wait_until(load.answered_everywhere, timeout=30, message="every route answered before the fault")
        fault = time.monotonic()
        sup.stop(name)
        told_down = assert_health(health_url, name, up=False, timeout=DOWN_SECONDS + 10)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - fault)))
        sup.start(name)
        wait_until(lambda: _probed(server.probe), timeout=60, interval=0.5, message=f"{name} back")
        back = time.monotonic()
        told_up = assert_health(health_url, name, up=True, timeout=SETTLE_SECONDS)
        time.sleep(SETTLE_SECONDS + QUIET_SECONDS)
    assert service_pids(sup) == pids, "a service restarted: its connections did not recover by themselves"
    timings = {"health_503_after_stop_s": told_down, "health_200_after_back_s": told_up}
    return Window(fault, back), load, timings


def _probed(probe: Callable[[], object]) -> bool:
    try:
        probe()
    except Exception as exc:  # not up yet, whatever the client says
        raise AssertionError(repr(exc)) from exc
    return True


# --- the tests --------------------------------------------------------------------------------------


def test_postgres_restart_fails_requests_only_while_it_is_down(faulty: RunningPlatform, user: User):
    window, load, timings = restart_datastore(faulty, user, "postgres", faulty["platform-services"])
    sent = load.snapshot()
    numbers = figures("postgres restart", window, sent, **timings)

    assert window.outside(sent) == []
    failed = [s for s in sent if s.failed]
    assert failed, "no request failed while PostgreSQL was down: the load did not reach it"
    # An outage is a 503 that names PostgreSQL, never a 500 or a gateway error.
    assert [s for s in failed if (s.status, "postgres_unavailable" in s.body) != (503, True)] == []
    assert numbers["recovery_after_back_s"] <= SETTLE_SECONDS
    # The sagas caught by the outage were paused, not abandoned: each ends, none needs a person.
    assert_sagas_end(faulty, user.headers, load.sagas, timeout=LEASE_SECONDS + 60)


def test_redis_restart_fails_requests_only_while_it_is_down(faulty: RunningPlatform, user: User):
    window, load, timings = restart_datastore(faulty, user, "redis", faulty["api-gateway"])
    sent = load.snapshot()
    figures("redis restart", window, sent, **timings)

    assert window.outside(sent) == []
    failed = [s for s in sent if s.failed]
    # Only the chat history needs Redis to answer: the rate limit lets requests through and the
    # Airtable reads skip the cache while it is down.
    assert {s.route for s in failed} <= {"GET /api/chat/sessions/{id}"}, failed
    assert [s for s in failed if (s.status, "redis_unavailable" in s.body) != (503, True)] == []
    assert_health(faulty["llm-orchestrator"], "redis", up=True, timeout=5)
    assert_sagas_end(faulty, user.headers, load.sagas, timeout=LEASE_SECONDS + 60)


def test_a_killed_service_fails_only_its_routes_and_its_sagas_resume(faulty: RunningPlatform, user: User):
    sup = Supervisor(faulty.home)
    pids = service_pids(sup)
    victim = "saga-orchestrator"
    faults_url = faulty["standin-airtable"] + "/_admin/faults"
    # Slow Airtable: the sagas below are in their create_tables step when their process dies.
    httpx.put(faults_url, json={"extra_latency_ms": 3000}, timeout=5).raise_for_status()
    try:
        with Load(faulty["api-gateway"], user.headers, routes(user, sagas=False)) as load:
            started = [
                httpx.post(
                    faulty.api + "/sagas/onboarding",
                    json={"workspace_name": f"killed {uuid.uuid4().hex[:8]}"},
                    headers=user.headers,
                    timeout=10,
                )
                for _ in range(4)
            ]
            assert [r.status_code for r in started] == [202] * 4, [r.text for r in started]
            in_flight = [r.json()["id"] for r in started]

            def in_create_tables() -> bool:
                sagas = [saga(faulty, user.headers, i) for i in in_flight]
                steps = [next(s for s in each["steps"] if s["name"] == "create_tables") for each in sagas]
                assert {each["status"] for each in sagas} == {"running"}, sagas
                return all(step["status"] == "running" for step in steps)

            wait_until(in_create_tables, timeout=10, message="every saga in its (slow) create_tables step")

            killed = time.monotonic()
            os.kill(pids[victim], signal.SIGKILL)

            def restarted() -> bool:
                assert sup.pid(victim) not in (None, pids[victim]), sup.state(victim)
                return _probed(
                    lambda: httpx.get(faulty[victim] + "/health/ready", timeout=5).raise_for_status()
                )

            wait_until(restarted, timeout=60, interval=0.5, message=f"{victim} restarted")
            back = time.monotonic()
            resumed_in = assert_sagas_end(faulty, user.headers, in_flight, timeout=LEASE_SECONDS + 60)
            time.sleep(max(0.0, SETTLE_SECONDS + QUIET_SECONDS - (time.monotonic() - back)))
    finally:
        httpx.delete(faults_url, timeout=5)
    sent = load.snapshot()
    window = Window(killed, back)
    figures(
        f"{victim} killed", window, sent, restarted_after_s=back - killed, sagas_ended_after_back_s=resumed_in
    )
    ends = [saga(faulty, user.headers, i)["status"] for i in in_flight]
    print(f"FIGURES {victim} killed: sagas in flight ended {ends}")

    others = [s for s in sent if not s.route.split(" ")[1].startswith(SAGA_ROUTES)]
    assert [s for s in others if s.failed] == [], "a route of another service failed"
    own = [s for s in sent if s.failed and s.route.split(" ")[1].startswith(SAGA_ROUTES)]
    assert own, "no request reached the killed service while it was gone"
    assert {s.status for s in own} <= {502, 503}, own
    assert max(s.ended - s.began for s in own) < GATEWAY_TIMEOUT_SECONDS + 2, own
    assert window.outside(sent) == []
    # Nobody else restarted.
    assert {k: v for k, v in service_pids(sup).items() if k != victim} == {
        k: v for k, v in pids.items() if k != victim
    }
