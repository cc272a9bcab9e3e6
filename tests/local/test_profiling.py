"""airscope.local.profiling: the speedscope reader's shares, the files' names, the errors that name
their fix, the terminal view, and one real service (the kit under uvicorn, with its switches on)
profiled for CPU, memory and a dump from outside (about 8 s; no platform)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from airscope.local import environment, profiling
from airscope.local.profiling import _cpu, _files, speedscope, view
from airscope.local.profiling.speedscope import FunctionShare
from airscope.telemetry import instrument

SITE = "/v/.venv/lib/python3.11/site-packages"
SRC = "/work/main/src/airscope"
FRAMES = [
    ("Runner.run", "/usr/lib/python3.11/asyncio/runners.py", 10),
    ("TelemetryMiddleware.__call__", f"{SRC}/telemetry/_middleware.py", 90),
    ("burn_cpu", f"{SRC}/telemetry/_drills.py", 40),
    ("walk", f"{SITE}/tree/walk.py", 5),
]


def _document(path: Path, samples: list[list[int]], idle: list[list[int]] = ()) -> Path:
    document = {
        "shared": {"frames": [{"name": n, "file": f, "line": line, "col": None} for n, f, line in FRAMES]},
        "profiles": [
            {
                "type": "sampled",
                "name": 'Thread 7 "MainThread"',
                "samples": samples,
                "weights": [0.01] * len(samples),
            },
            {"type": "sampled", "name": "Thread 8", "samples": list(idle), "weights": [0.01] * len(idle)},
        ],
    }
    path.write_text(json.dumps(document))
    return path


def test_a_function_s_own_share_is_on_top_and_its_total_anywhere_once_a_sample(tmp_path: Path) -> None:
    read = speedscope.read(
        _document(
            tmp_path / "p.json",
            [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1], [0, 3, 3, 3], []],  # a recursion; an empty sample
        )
    )
    assert read.count == 5
    top = speedscope.shares(read)
    assert top[0] == FunctionShare("burn_cpu", f"{SRC}/telemetry/_drills.py", 40, own=0.6, total=0.6)
    # Equal own shares: the larger total first.
    assert [(f.name, f.own, f.total) for f in top[1:]] == [
        ("TelemetryMiddleware.__call__", 0.2, 0.8),
        ("walk", 0.2, 0.2),  # three frames deep in one sample, counted once
        ("Runner.run", 0.0, 1.0),
    ]
    assert speedscope.shares(read, top=1) == top[:1]
    assert [thread for thread, _ in read.samples()] == ["MainThread"] * 5


def test_no_samples_share_out_nothing(tmp_path: Path) -> None:
    assert speedscope.shares(speedscope.read(_document(tmp_path / "p.json", []))) == ()


@pytest.mark.parametrize(
    ("label", "name"),
    [('Thread 7 "MainThread"', "MainThread"), ("Thread 8", "Thread 8"), ('Thread 9 ""', 'Thread 9 ""')],
)
def test_a_thread_is_named_by_its_python_name(label: str, name: str) -> None:
    assert speedscope.thread_name(label) == name


@pytest.mark.parametrize(
    ("file", "short"),
    [
        (f"{SITE}/httpx/_client.py", "httpx/_client.py"),
        (f"{SRC}/telemetry/_drills.py", "airscope/telemetry/_drills.py"),
        ("/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/events.py", "asyncio/events.py"),
        ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap>"),
    ],
)
def test_a_file_is_shown_from_its_package(file: str, short: str) -> None:
    assert speedscope.short_file(file) == short


def test_files_are_named_by_time_program_and_kind_and_never_overwritten(tmp_path: Path) -> None:
    home = tmp_path / "home"
    directory = profiling.profiles_dir(home)
    assert directory == home / "profiles" and directory.is_dir()
    when = datetime(2026, 12, 7, 19, 5, 9, tzinfo=UTC)
    first = _files.new_path(directory, "mcp-server@2", "cpu.speedscope.json", when)
    assert first.name == "20261207T190509Z-mcp-server@2-cpu.speedscope.json"
    first.touch()
    second = _files.new_path(directory, "mcp-server@2", "cpu.speedscope.json", when)
    assert second.name == "20261207T190510Z-mcp-server@2-cpu.speedscope.json"


def test_the_console_opens_a_profile_on_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSCOPE_PORT_CONSOLE", "3999")
    assert profiling.console_url(Path("/h/profiles/x-cpu.speedscope.json")) == (
        "http://127.0.0.1:3999/profiles/x-cpu.speedscope.json"
    )


def test_local_mode_turns_the_profiling_switch_on(tmp_path: Path) -> None:
    env = environment.shared_env(tmp_path, "key", {}, {})
    assert env["AIRSCOPE_PROFILE_SWITCH"] == "1" and env["AIRSCOPE_DRILLS"] == "1"


def test_errors_name_their_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(profiling.ProfileError, match=r"no process .*airscope status"):
        profiling.record_cpu(2**22 + 12345, service="s", program="s", seconds=1, out_dir=tmp_path)
    refused = _cpu._refused("record", "s", 1, "Error: Permission Denied: Try running again with elevated")
    assert "run as root" in str(refused) and "ptrace_scope" in str(refused)
    with pytest.raises(profiling.ProfileError, match="at most 300 s"):
        profiling.record_memory("http://127.0.0.1:9", service="s", program="s", seconds=301, out_dir=tmp_path)
    with pytest.raises(profiling.ProfileError, match=r"cannot reach s .*airscope status"):
        profiling.record_memory("http://127.0.0.1:9", service="s", program="s", seconds=1, out_dir=tmp_path)
    with pytest.raises(profiling.ProfileError, match=r"no service 'nope': one of .*api-gateway"):
        profiling.locate("nope")
    monkeypatch.setenv("AIRSCOPE_HOME", str(tmp_path))
    with pytest.raises(profiling.ProfileError, match=r"not running .*make up"):
        profiling.locate("mcp-server")
    monkeypatch.setattr(_cpu.shutil, "which", lambda _: None)
    monkeypatch.setattr(_cpu.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(profiling.ProfileError, match="py-spy is not installed"):
        profiling.py_spy()


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "AIRSCOPE_PROFILE_SWITCH=1"), (409, "already tracing"), (500, "answered 500")],
)
def test_a_switch_that_refuses_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, message: str
) -> None:
    monkeypatch.setattr(
        httpx, "post", lambda *a, **k: httpx.Response(status, text="no", request=httpx.Request("POST", a[0]))
    )
    with pytest.raises(profiling.ProfileError, match=message):
        profiling.record_memory("http://x", service="s", program="s@2", seconds=1, out_dir=tmp_path)


def test_the_view_fits_80_columns_and_says_where_the_whole_profile_is(tmp_path: Path) -> None:
    long = f"{SITE}/opentelemetry/sdk/trace/export/in_memory_span_exporter/__init__.py"
    cpu = profiling.CpuProfile(
        service="mcp-server",
        program="mcp-server",
        pid=42,
        seconds=5.0,
        samples=500,
        path=tmp_path / "20261207T190509Z-mcp-server-cpu.speedscope.json",
        top=(
            FunctionShare("burn_cpu", f"{SRC}/telemetry/_drills.py", 40, 0.62, 0.62),
            FunctionShare("InMemorySpanExporter.a_very_long_method_name_indeed", long, 1234, 0.1, 0.3),
        ),
    )
    text = view.render_cpu(cpu)
    lines = text.splitlines()
    assert lines[0] == "mcp-server (pid 42): 500 samples in 5s, threads on a CPU"
    assert "62.0%" in lines[2] and "burn_cpu" in lines[2] and "airscope/telemetry/_drills.py:40" in lines[2]
    assert "__init__.py:1234" in lines[3]
    assert max(len(line) for line in lines[:-2]) <= 80
    assert lines[-1].endswith("/profiles/20261207T190509Z-mcp-server-cpu.speedscope.json")
    assert "--idle" in view.render_cpu(profiling.CpuProfile("s", "s", 1, 1.0, 0, cpu.path, ()))
    entry = json.loads(json.dumps(cpu.entry()))
    assert entry["path"] == str(cpu.path) and entry["top"][0]["name"] == "burn_cpu"
    assert entry["url"].endswith(cpu.path.name)

    memory = profiling.MemoryProfile(
        "s",
        "s",
        30,
        25 * 1024**2,
        26 * 1024**2,
        tmp_path / "m.json",
        (profiling.MemoryLine(long, 7, 20 * 1024**2, 3),),
    )
    text = view.render_memory(memory)
    assert "25MiB allocated and still held after 30s of tracing (peak 26MiB)" in text
    assert max(len(line) for line in text.splitlines()[:-2]) <= 80


# --- a real service: the kit under uvicorn, profiled from outside --------------------------------------


def create_app() -> FastAPI:
    """The profiled service (uvicorn --factory tests.local.test_profiling:create_app)."""
    app = FastAPI()

    @app.get("/work")
    async def work() -> dict:
        return {"ok": True}

    instrument(app, service="profiled", version="1.0.0")
    return app


@pytest.fixture
def service(run_app, tmp_path: Path):
    return run_app(
        "tests.local.test_profiling",
        env={
            "AIRSCOPE_DRILLS": "1",
            "AIRSCOPE_PROFILE_SWITCH": "1",
            "AIRSCOPE_TRACE_DIR": str(tmp_path / "traces"),
        },
        ready_path="/health/live",
    )


def _traffic(url: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        while not stop.is_set():
            client.get("/work")


def test_a_service_s_hot_function_its_grown_memory_and_its_threads(service, tmp_path: Path) -> None:
    out = tmp_path / "profiles"
    httpx.put(f"{service.url}/_drill/cpu", json={"ms_per_request": 20}).raise_for_status()
    stop = threading.Event()
    sender = threading.Thread(target=_traffic, args=(service.url, stop))
    sender.start()
    try:
        began = time.monotonic()
        cpu = profiling.record_cpu(
            service.process.pid, service="profiled", program="profiled", seconds=2, out_dir=out
        )
        took = time.monotonic() - began
    finally:
        stop.set()
        sender.join()
        httpx.delete(f"{service.url}/_drill/cpu")
    assert took < 2 + 1.5
    assert cpu.top[0].name == "burn_cpu" and cpu.top[0].own > 0.5, cpu.top[:3]
    assert cpu.top[0].file.endswith("airscope/telemetry/_drills.py")
    assert (
        cpu.samples > 100
        and cpu.path.parent == out
        and cpu.path.name.endswith("-profiled-cpu.speedscope.json")
    )
    assert speedscope.read(cpu.path).count == cpu.samples

    def hold() -> None:
        time.sleep(0.3)
        httpx.put(f"{service.url}/_drill/memory", json={"bytes": 30 * 1024**2}).raise_for_status()

    holder = threading.Thread(target=hold)
    holder.start()
    memory = profiling.record_memory(
        service.url, service="profiled", program="profiled", seconds=1, out_dir=out, top=5
    )
    holder.join()
    httpx.delete(f"{service.url}/_drill/memory")
    assert memory.top[0].file.endswith("airscope/telemetry/_drills.py"), memory.top
    assert memory.top[0].grown_bytes >= 30 * 1024**2 and memory.traced_bytes >= 30 * 1024**2
    written = json.loads(memory.path.read_text())
    assert written["program"] == "profiled" and written["top"][0]["grown_bytes"] == memory.top[0].grown_bytes
    assert memory.path.name.endswith("-profiled-memory.json")

    stacks = profiling.dump(service.process.pid)
    assert '"MainThread"' in stacks and "uvicorn" in stacks
