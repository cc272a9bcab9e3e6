"""The local platform with its monitoring down: Prometheus and Alertmanager stopped, and the disk under
every program's log full. User requests through the gateway keep succeeding, about as fast, and the
local alert receiver notices the Watchdog's absence (`airscope status` says the pipeline is broken)
until both are back.

The full disk is a tmpfs mounted over log/ and filled; supervisord reopens its log files there on
SIGUSR2 (as logrotate would have it), and keeps reading every program's output, dropping what it
cannot write. Everything is restored afterwards: space freed (supervisord exits if a reopen finds its
buffered bytes still unwritable), the mount lifted, the logs reopened, both programs started.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner

from airscope.bench.telemetry_outage import full_tmpfs
from airscope.cli import main
from airscope.local.alert_receiver import OVERDUE_AFTER
from airscope.local.supervisor import Supervisor
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

MONITORING = ("prometheus", "alertmanager")
BASE = "appAirscopeDemo01"
ROUNDS = 100


def _user_headers(platform: RunningPlatform) -> dict[str, str]:
    email = f"outage-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": "correct horse battery"}
    assert httpx.post(platform.api + "/auth/register", json=credentials, timeout=10).status_code == 201
    login = httpx.post(platform.api + "/auth/login", json=credentials, timeout=10)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _user_requests(platform: RunningPlatform, headers: dict[str, str]) -> tuple[list[float], list[str]]:
    """Two routes through the gateway (platform-services, airtable-gateway and its stand-in), ROUNDS times."""
    durations, failures = [], []
    with httpx.Client(headers=headers, timeout=10) as client:
        for _ in range(ROUNDS):
            for url in (platform.api + "/auth/me", platform.api + f"/airtable/bases/{BASE}/tables"):
                began = time.perf_counter()
                try:
                    status = client.get(url).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                durations.append(time.perf_counter() - began)
                if status != 200:
                    failures.append(f"{url}: {status}")
    return durations, failures


def _reopen_logs(supervisor: Supervisor) -> None:
    os.kill(int(supervisor.pid_file.read_text()), signal.SIGUSR2)


def _pipeline() -> dict:
    """The alert pipeline as `airscope status --json` reports it (from the Watchdog's heartbeats)."""
    result = CliRunner().invoke(main, ["status", "--json"])
    return json.loads(result.output)["alert_pipeline"]


def _figures(durations: list[float]) -> str:
    cuts = statistics.quantiles(durations, n=100)
    return f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"


def test_user_requests_succeed_with_monitoring_stopped_and_the_log_disk_full(platform: RunningPlatform):
    supervisor = Supervisor(platform.home)
    headers = _user_headers(platform)
    before, failures = _user_requests(platform, headers)
    assert failures == []
    runner = CliRunner()
    try:
        for name in MONITORING:
            result = runner.invoke(main, ["stop", name])
            assert result.exit_code == 0, result.output
        assert {supervisor.state(name) for name in MONITORING} == {"STOPPED"}
        try:
            with full_tmpfs(supervisor.log_dir) as log_dir:
                _reopen_logs(supervisor)
                # supervisord has its files open on the full disk now: nothing more fits.
                gateway_log = log_dir / "api-gateway.log"
                wait_until(
                    lambda: gateway_log.exists() and gateway_log.stat().st_size == 0,
                    timeout=10,
                    message="supervisord's logs reopened on the full disk",
                )
                try:
                    during, failures = _user_requests(platform, headers)
                    assert gateway_log.stat().st_size == 0
                    # No Watchdog arrives while Prometheus and Alertmanager are stopped: the receiver
                    # must say so once its heartbeats are overdue, not keep reporting a working pipeline.
                    silent = wait_until(
                        lambda: (report := _pipeline())["broken"] and report,
                        timeout=OVERDUE_AFTER + 30,
                        interval=2,
                        message="airscope status reporting the alert pipeline broken",
                    )
                    assert silent["state"] == "overdue", silent
                finally:
                    # Space first: supervisord dies when a reopen's close cannot flush (disk still full).
                    (log_dir / "fill").unlink()
        except PermissionError as error:
            pytest.skip(f"a full disk is a tmpfs mounted over log/, which needs root: {error}")
    finally:
        _reopen_logs(supervisor)  # after the (lazy) unmount: back to the files under log/
        for name in MONITORING:
            result = runner.invoke(main, ["start", name])
            assert result.exit_code == 0, result.output
    print(f"\nall up: {_figures(before)}\nmonitoring down, log disk full: {_figures(during)}")
    assert failures == []
    # A generous bound (other tests share the machine): a request waiting on a dead backend or a
    # stuck stdout would take seconds, or never end.
    assert max(during) < 5.0
    wait_until(
        lambda: {supervisor.state(name) for name in MONITORING} == {"RUNNING"},
        timeout=15,
        message="Prometheus and Alertmanager running again",
    )
    gateway_log = supervisor.log_dir / "api-gateway.log"
    size = gateway_log.stat().st_size

    def logging_again() -> bool:
        httpx.get(platform.api + "/auth/me", headers=headers, timeout=10)
        return gateway_log.stat().st_size > size

    wait_until(logging_again, timeout=10, interval=0.5, message="the gateway's log growing again")
    # The heartbeats resume (Prometheus evaluates the Watchdog, Alertmanager sends it): the pipeline
    # is healthy again, and the next tests find `airscope status` green.
    heard = wait_until(
        lambda: (report := _pipeline())["state"] == "ok" and report,
        timeout=OVERDUE_AFTER + 60,
        interval=2,
        message="the Watchdog heard again after Prometheus and Alertmanager restarted",
    )
    print(f"alert pipeline: {heard['summary']}")
