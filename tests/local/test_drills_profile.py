"""The cpu-hog drill and the profiles drills attach, without a platform: the scenario's numbers
against the catalog, its fault against a fake service's switch, and a whole drill run with a fake
fault and fake profilers: when each profile is taken against the injection, what the report, the
progress and the record say, and a profile that cannot be taken failing nothing."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from airscope import catalog
from airscope.local import alert_receiver
from airscope.local.drills import profiles, record, run
from airscope.local.drills.faults import UPLOADS, BurnCpu, DrillError, Fault
from airscope.local.drills.profiles import CPU, MEMORY, Attach, Taking
from airscope.local.drills.scenarios import (
    BUDGETS,
    CPU_HOG_MS,
    CPU_HOG_SERVICE,
    DEFAULT_SERVICE,
    Scenario,
    scenarios,
)
from airscope.local.drills.training import HINTS, Pick, causes, services
from airscope.local.profiling import CpuProfile, FunctionShare, MemoryLine, MemoryProfile, ProfileError
from airscope.telemetry import Settings, instrument
from tests.support import serve_app

SWITCH_CEILING_MS = 1000  # PUT /_drill/cpu takes 0 < ms_per_request <= 1000


def test_cpu_hog_burns_the_service_with_the_lowest_threshold_above_it_through_its_own_traffic():
    scenario = scenarios()["cpu-hog"]
    services_ = catalog.load().services
    threshold = services_[CPU_HOG_SERVICE].alert_latency_seconds
    assert threshold == min(service.alert_latency_seconds for service in services_.values())
    assert scenario.fault == BurnCpu(CPU_HOG_SERVICE, CPU_HOG_MS)
    assert scenario.expect == {"alertname": "HighLatency", "service": CPU_HOG_SERVICE}
    # Every request burns at least the threshold, within what the switch takes...
    assert threshold * 1000 <= CPU_HOG_MS <= SWITCH_CEILING_MS
    # ...through the uploads, one request to automation-services each, at a rate that leaves its
    # event loop idle half the time (a queue would hold its scrapes and probes too).
    assert (scenario.traffic_kind, scenario.traffic) == (UPLOADS, 4)
    assert scenario.traffic_rps * CPU_HOG_MS / 1000 <= 0.5
    assert scenario.tolerate == BUDGETS
    assert scenario.muted_by == (
        {"alertname": "LatencyBudgetBurn", "service": CPU_HOG_SERVICE, "severity": "critical"},
    )
    assert scenario.notify_within == 90


def test_the_latency_drills_attach_a_cpu_profile_of_the_slowed_service_and_memory_a_memory_one():
    found = scenarios("frontend")
    assert found["cpu-hog"].profile == Attach(CPU, CPU_HOG_SERVICE)
    assert found["latency"].profile == Attach(CPU, "airtable-gateway")
    assert found["memory"].profile == Attach(MEMORY, "frontend")
    assert {name for name, s in found.items() if s.profile} == {"cpu-hog", "latency", "memory"}
    assert min(found[name].notify_within for name in ("cpu-hog", "latency", "memory")) > profiles.SECONDS
    with pytest.raises(ValueError, match="no 'wall' profile"):
        Attach("wall", "frontend")


def test_cpu_hog_is_trained_blind_as_a_cpu_hog_in_its_service():
    pick = Pick("cpu-hog", DEFAULT_SERVICE)  # --service moves service-down and memory, not the burn
    assert pick.cause == f"cpu hog in {CPU_HOG_SERVICE}"
    assert pick.cause in causes(services())
    assert {f"cpu hog in {name}" for name in services()} <= set(causes(services()))
    assert pick.touches == CPU_HOG_SERVICE  # never with that service stopped or holding memory
    assert "airscope profile" in HINTS["cpu-hog"] and CPU_HOG_SERVICE not in HINTS["cpu-hog"]
    assert pick.build().fault.persistent  # the switch stays on after `train start` exits


class FakeSwitch:
    """A service's /_drill/cpu as the kit answers it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.app = FastAPI()

        @self.app.api_route("/_drill/cpu", methods=["PUT", "DELETE"])
        async def cpu(request: Request) -> JSONResponse:
            body = await request.json() if request.method == "PUT" else None
            self.calls.append((request.method, body))
            return JSONResponse({"ms_per_request": body["ms_per_request"] if body else 0})


def test_the_cpu_hog_fault_turns_the_switch_on_and_off_and_names_the_fix_without_it():
    switch = FakeSwitch()
    with serve_app(switch.app) as url:
        target = SimpleNamespace(url=lambda program: url, sup=SimpleNamespace(pid=lambda program: 4242))
        fault = BurnCpu(CPU_HOG_SERVICE, 700)
        fault.prepare(target)  # resets whatever an earlier drill left on
        fault.inject(target)
        fault.heal(target)
        fault.cleanup(target)
    assert switch.calls == [
        ("DELETE", None),
        ("PUT", {"ms_per_request": 700}),
        ("DELETE", None),
        ("DELETE", None),
    ]
    assert "burns 700 ms of CPU in every request" in fault.what

    with serve_app(FastAPI()) as url:  # a service started without AIRSCOPE_DRILLS=1: no switch
        target = SimpleNamespace(url=lambda program: url, sup=SimpleNamespace(pid=lambda program: 4242))
        with pytest.raises(DrillError, match="AIRSCOPE_DRILLS=1"):
            fault.prepare(target)
    stopped = SimpleNamespace(url=lambda program: url, sup=SimpleNamespace(pid=lambda program: None))
    with pytest.raises(DrillError, match=f"airscope start {CPU_HOG_SERVICE}"):
        fault.prepare(stopped)
    fault.cleanup(stopped)  # the service is gone: nothing to undo, nothing raised


# --- a whole drill with a fake fault and fake profilers ----------------------------------------

FIRING = {"alertname": "HighLatency", "service": CPU_HOG_SERVICE, "severity": "warning"}


class NotifyingFault(Fault):
    """Injecting it notifies its alert at once at the local receiver; healing resolves it."""

    what = "a fake fault"

    def __init__(self, receiver: Path) -> None:
        self.receiver = receiver
        self.injected: float | None = None
        self.healed: float | None = None

    def _notify(self, status: str) -> None:
        line = {
            "received_at": datetime.now(UTC).isoformat(),
            "receiver": "data-team-chat",
            "notification": {"alerts": [{"status": status, "labels": FIRING}]},
        }
        with self.receiver.open("a") as file:
            file.write(json.dumps(line) + "\n")

    def inject(self, target) -> None:
        self.injected = time.monotonic()
        self._notify("firing")

    def heal(self, target) -> None:
        self.healed = time.monotonic()
        self._notify("resolved")


@pytest.fixture
def drill(tmp_path, monkeypatch):
    """A target whose receiver file the fault writes to, with Prometheus and Alertmanager quiet."""
    receiver = tmp_path / "notifications.jsonl"
    receiver.touch()
    monkeypatch.setattr(alert_receiver, "notifications_file", lambda: receiver)
    monkeypatch.setattr(run, "_before", lambda target: [])
    monkeypatch.setattr(run, "POLL", 0.01)
    monkeypatch.setattr(run, "budget_spent", lambda target, started, healed: (None, healed))
    monkeypatch.setattr(profiles, "TRACING_STARTS", 0.05)
    target = SimpleNamespace(
        plat=SimpleNamespace(home=tmp_path / "home"),
        sup=SimpleNamespace(pid=lambda program: 4242 if program == CPU_HOG_SERVICE else None),
        url=lambda program: {"console": "http://127.0.0.1:3000"}.get(program, "http://127.0.0.1:7030"),
    )
    fault = NotifyingFault(receiver)
    return target, fault


def _scenario(fault: Fault, kind: str) -> Scenario:
    return Scenario(
        "cpu-hog",
        fault,
        {"alertname": "HighLatency", "service": CPU_HOG_SERVICE},
        90,
        profile=Attach(kind, CPU_HOG_SERVICE, seconds=0.2),
    )


TOP = (
    FunctionShare("burn_cpu", "/src/airscope/telemetry/_drills.py", 88, 0.91, 0.91),
    FunctionShare("dispatch", "/venv/starlette/middleware/base.py", 100, 0.04, 0.97),
    FunctionShare("run", "/usr/lib/python3.12/asyncio/runners.py", 118, 0.03, 1.0),
    FunctionShare("select", "/usr/lib/python3.12/selectors.py", 452, 0.02, 0.02),
)


def test_a_cpu_profile_starts_after_the_injection_and_lands_in_the_report_progress_and_record(
    drill, monkeypatch, capsys
):
    target, fault = drill
    asked = []

    def record_cpu(pid, *, service, program, seconds, out_dir, idle=False, rate=100):
        asked.append((pid, service, program, seconds, out_dir, time.monotonic()))
        assert fault.injected is not None, "taken once the fault is in"
        time.sleep(seconds)
        path = out_dir / "20261207T100000Z-automation-services-cpu.speedscope.json"
        path.write_text("{}")
        return CpuProfile(service, program, pid, seconds, 612, path, TOP)

    monkeypatch.setattr(profiles.profiling, "record_cpu", record_cpu)
    result = run.run(_scenario(fault, CPU), target)

    assert result.passed and result.error is None, result
    ((pid, service, program, seconds, out_dir, at),) = asked
    assert (pid, service, program, seconds) == (4242, CPU_HOG_SERVICE, CPU_HOG_SERVICE, 0.2)
    assert out_dir == target.plat.home / "profiles" and at >= fault.injected
    assert result.profile["kind"] == "cpu" and result.profile_error is None
    assert result.profile["top"][0]["name"] == "burn_cpu"
    name = "20261207T100000Z-automation-services-cpu.speedscope.json"
    assert result.profile["url"].endswith(f"/profiles/{name}")

    shown = run.render(result)
    assert "profile:    CPU of automation-services over 0.2 s, 612 samples" in shown
    assert "91% own, 91% total: burn_cpu (/src/airscope/telemetry/_drills.py:88)" in shown
    assert "runners.py" in shown and "selectors.py" not in shown  # the top 3, the file has them all
    assert f"/profiles/{name}" in shown
    progress = capsys.readouterr().err
    assert "taking a cpu profile of automation-services for 0.2 s" in progress
    assert "burn_cpu" in progress and f"/profiles/{name}" in progress
    assert json.loads(json.dumps(result.as_json()))["profile"] == result.profile

    (kept,) = record.entries(target.plat.home)
    assert kept.profile == result.profile


def test_a_memory_profile_traces_before_the_injection_and_its_window_covers_it(drill, monkeypatch):
    target, fault = drill
    window = []

    def record_memory(url, *, service, program, seconds, out_dir, top=20):
        began = time.monotonic()
        assert fault.injected is None, "tracing must start before the memory is allocated"
        time.sleep(seconds)
        window.append((began, time.monotonic(), url))
        path = out_dir / "20261207T100000Z-automation-services-memory.json"
        path.write_text("{}")
        lines = (MemoryLine("/src/airscope/telemetry/_drills.py", 41, 230 * 1024**2, 1),)
        return MemoryProfile(service, program, seconds, 231 * 1024**2, 232 * 1024**2, path, lines)

    monkeypatch.setattr(profiles.profiling, "record_memory", record_memory)
    result = run.run(_scenario(fault, MEMORY), target)

    ((began, ended, url),) = window
    assert began < fault.injected < ended and url == "http://127.0.0.1:7030"
    assert result.profile["kind"] == "memory"
    shown = run.render(result)
    assert "profile:    memory of automation-services over 0.2 s: 231.0 MiB traced" in shown
    assert "230.0 MiB at /src/airscope/telemetry/_drills.py:41" in shown


@pytest.mark.parametrize(
    "failure",
    [
        ProfileError("py-spy is not installed: `make install` puts it in .venv/bin"),
        PermissionError(1, "Operation not permitted"),
    ],
    ids=["py-spy missing", "not allowed to read the process"],
)
def test_a_profile_that_cannot_be_taken_fails_nothing_and_says_why(drill, monkeypatch, capsys, failure):
    target, fault = drill

    def record_cpu(*args, **kwargs):
        raise failure

    monkeypatch.setattr(profiles.profiling, "record_cpu", record_cpu)
    result = run.run(_scenario(fault, CPU), target)
    assert result.passed and result.profile is None
    assert result.profile_error == (
        str(failure) if isinstance(failure, ProfileError) else f"PermissionError: {failure}"
    )
    assert f"profile:    not taken ({result.profile_error})" in run.render(result)
    assert (
        f"profile: not taken ({result.profile_error}); the drill goes on without it"
        in capsys.readouterr().err
    )
    assert record.entries(target.plat.home)[-1].profile is None


def test_a_stopped_service_is_no_profile_and_a_drill_without_one_shows_none(drill, monkeypatch):
    target, fault = drill
    target.sup = SimpleNamespace(pid=lambda program: None)
    result = run.run(_scenario(fault, CPU), target)
    assert result.passed and result.profile is None and "is not running" in result.profile_error

    plain = Scenario("x", NotifyingFault(fault.receiver), {"alertname": "HighLatency"}, 90)
    result = run.run(plain, target)
    assert result.profile is result.profile_error is None and "profile:" not in run.render(result)


def test_record_lines_written_before_profiles_read_back_without_one(tmp_path):
    old = {
        "scenario": "latency",
        "started": "2026-12-07T10:00:00+00:00",
        "healed": "2026-12-07T10:01:00+00:00",
        "ended": "2026-12-07T10:02:00+00:00",
        "passed": True,
        "budget_spent": None,
        "budget_until": None,
    }
    record.path(tmp_path).parent.mkdir(parents=True)
    record.path(tmp_path).write_text(json.dumps(old) + "\n")
    (entry,) = record.entries(tmp_path)
    assert entry.profile is None and entry.scenario == "latency"


def test_profiles_run_beside_the_drill_not_in_its_way(drill, monkeypatch):
    """The drill does not wait for its profile before healing: only at its end, for the result."""
    target, fault = drill
    release = threading.Event()

    def record_cpu(pid, *, service, program, seconds, out_dir, idle=False, rate=100):
        release.wait(10)  # a slow py-spy
        raise ProfileError("py-spy gave up")

    monkeypatch.setattr(profiles.profiling, "record_cpu", record_cpu)
    threading.Timer(0.5, release.set).start()
    result = run.run(_scenario(fault, CPU), target)
    assert fault.healed is not None and fault.healed - fault.injected < 0.5
    assert result.profile_error == "py-spy gave up"


# --- against the kit's real switches, served in this process ------------------------------------


@pytest.fixture
def kit_service(tmp_path):
    """An instrumented app with the drill and profiling switches on, as local mode starts a service."""
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict:
        return {"ok": True}

    instrumentation = instrument(
        app,
        service="sample",
        version="0",
        registry=CollectorRegistry(),
        tracing=False,
        access_log=False,
        settings=Settings(drills=True, profile_switch=True),
    )
    try:
        with serve_app(app) as url:
            yield SimpleNamespace(
                url=lambda program: {"console": "http://127.0.0.1:3000"}.get(program, url),
                plat=SimpleNamespace(home=tmp_path),
                sup=SimpleNamespace(pid=lambda program: os.getpid()),
                base=url,
            )
    finally:
        instrumentation.uninstrument()


def test_the_cpu_hog_fault_slows_every_request_by_its_burn_and_healing_stops_it(kit_service):
    fault = BurnCpu("sample", 300)
    fault.prepare(kit_service)
    fault.inject(kit_service)
    began = time.perf_counter()
    assert httpx.get(f"{kit_service.base}/work", timeout=10).status_code == 200
    assert time.perf_counter() - began >= 0.3
    assert (
        httpx.get(f"{kit_service.base}/health/live", timeout=10).elapsed.total_seconds() < 0.3
    )  # probes never
    fault.heal(kit_service)
    began = time.perf_counter()
    httpx.get(f"{kit_service.base}/work", timeout=10)
    assert time.perf_counter() - began < 0.3


def test_a_memory_profile_started_before_the_memory_is_held_names_the_ballast(kit_service):
    taking = Taking(Attach(MEMORY, "sample", seconds=1.5), kit_service)
    taking.start()
    time.sleep(profiles.TRACING_STARTS)
    httpx.put(
        f"{kit_service.base}/_drill/memory", json={"bytes": 16 * 1024**2}, timeout=10
    ).raise_for_status()
    taking.wait()
    httpx.delete(f"{kit_service.base}/_drill/memory", timeout=10)
    assert taking.why_not is None, taking.why_not
    first = taking.entry["top"][0]
    assert first["file"].endswith("telemetry/_drills.py") and first["grown_bytes"] >= 16 * 1024**2
    assert Path(taking.entry["path"]).parent == kit_service.plat.home / "profiles"
    assert taking.entry["url"].endswith("/profiles/" + Path(taking.entry["path"]).name)


def test_a_cpu_profile_of_a_burning_service_names_burn_cpu(kit_service):
    fault = BurnCpu("sample", 50)
    fault.inject(kit_service)
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            httpx.get(f"{kit_service.base}/work", timeout=10)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        taking = Taking(Attach(CPU, "sample", seconds=2), kit_service)
        taking.start()
        taking.wait()
    finally:
        stop.set()
        sender.join(timeout=10)
        fault.heal(kit_service)
    assert taking.why_not is None, taking.why_not
    names = [function["name"] for function in taking.entry["top"][:3]]
    assert "burn_cpu" in names, taking.entry["top"][:5]
    assert taking.entry["samples"] > 0 and taking.entry["pid"] == os.getpid()


def test_an_idle_service_or_nothing_grown_is_said_as_such():
    idle = {
        "kind": "cpu",
        "program": "airtable-gateway",
        "seconds": 10.0,
        "samples": 0,
        "top": [],
        "url": "u",
    }
    assert (
        profiles.summary(idle)[1]
        == "  nothing: no sample caught it on a CPU (it waits; its traces say on what)"
    )
    flat = {
        "kind": "memory",
        "program": "mcp-server",
        "seconds": 10.0,
        "traced_bytes": 2048,
        "top": [],
        "url": "u",
    }
    assert profiles.summary(flat) == [
        "memory of mcp-server over 10 s: 2 KiB traced, grown most at",
        "  nothing grew",
        "u",
    ]
