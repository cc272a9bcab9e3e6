"""`airscope bench profile`: py-spy's samples read into own time, areas and "on behalf of", the report
at 80 columns, and one real recording of a busy process (about 3 s; no platform)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from airscope.bench import profile
from airscope.bench.profile import EVENT_LOOP, Function, Profile, Run

SITE = "/v/.venv/lib/python3.11/site-packages"
STDLIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"
SRC = "/work/main/src/airscope"


@pytest.mark.parametrize(
    ("file", "area"),
    [
        (f"{SITE}/opentelemetry/sdk/trace/__init__.py", "opentelemetry.sdk"),
        (f"{SITE}/opentelemetry/context/__init__.py", "opentelemetry.context"),
        (f"{SITE}/httpx/_client.py", "httpx"),
        (f"{SITE}/six.py", "six"),
        (f"{SRC}/telemetry/_middleware.py", "airscope.telemetry"),
        (f"{SRC}/services/llm_orchestrator/tools.py", "airscope.services.llm_orchestrator"),
        (f"{STDLIB}/asyncio/base_events.py", "python asyncio"),
        (f"{STDLIB}/typing.py", "python typing"),
        ("<frozen importlib._bootstrap>", "other"),
    ],
)
def test_a_functions_area_is_its_package(file: str, area: str) -> None:
    assert profile.area(file) == area


FRAMES = [
    ("Runner.run", f"{STDLIB}/asyncio/runners.py"),
    ("Server.run", f"{SITE}/uvicorn/server.py"),
    ("SocketStream.send", f"{SITE}/anyio/_backends/_asyncio.py"),
    ("AsyncClient.send", f"{SITE}/httpx/_client.py"),
    ("AsyncCompletions.create", f"{SITE}/openai/resources/chat/completions.py"),
    ("BatchSpanProcessor.on_end", f"{SITE}/opentelemetry/sdk/trace/export/__init__.py"),
    ("TelemetryMiddleware.__call__", f"{SRC}/telemetry/_middleware.py"),
    ("chat", f"{SRC}/services/llm_orchestrator/app.py"),
    ("Condition.wait", f"{STDLIB}/threading.py"),
]
SAMPLES = [  # root first, as py-spy writes them
    [1, 0],  # the loop itself
    [1, 0, 6, 7, 4, 3, 2],  # a socket write for the OpenAI SDK
    [1, 0, 6, 7, 4, 3, 2],
    [1, 0, 6, 7, 5],  # a span ending
    [1, 0, 6, 7],  # the service's own code
]


def _speedscope(path: Path) -> Path:
    document = {
        "shared": {"frames": [{"name": name, "file": file, "line": 1} for name, file in FRAMES]},
        "profiles": [
            {"type": "sampled", "name": 'Thread 7 "MainThread"', "samples": SAMPLES, "weights": [0.01] * 5},
            {"type": "sampled", "name": 'Thread 8 "OtelBatchSpanRecordProcessor"', "samples": [[8]]},
        ],
    }
    path.write_text(json.dumps(document))
    return path


def test_samples_count_for_their_own_function_their_area_and_on_behalf_of_their_nearest_caller(
    tmp_path: Path,
) -> None:
    found = profile.read_speedscope("llm-orchestrator", _speedscope(tmp_path / "p.json"))
    assert found.samples == 6
    assert found.own[Function("SocketStream.send", "anyio")] == 2
    assert found.areas == Counter(
        {
            "anyio": 2,
            "python asyncio": 1,
            "opentelemetry.sdk": 1,
            "airscope.services.llm_orchestrator": 1,
            "python threading": 1,
        }
    )
    # anyio and httpx work for the OpenAI SDK; below the loop's own frame a sample is the loop's.
    assert found.owners == Counter(
        {
            "openai": 2,
            EVENT_LOOP: 2,  # the loop, and the span thread's wait (only the standard library on its stack)
            "opentelemetry.sdk": 1,
            "airscope.services.llm_orchestrator": 1,
        }
    )
    assert found.threads == Counter({"MainThread": 5, "OtelBatchSpanRecordProcessor": 1})


def test_the_report_shares_the_cpu_per_chat_out_by_samples_in_80_columns(tmp_path: Path) -> None:
    found = profile.read_speedscope("llm-orchestrator", _speedscope(tmp_path / "p.json"))
    found.cpu_seconds = 3.0
    run = Run(
        seconds=10.0,
        chats=100,
        failed=Counter({"skipped": 2}),
        rate=10,
        profiles=[found],
        programs={"llm-orchestrator": 3.0, "mcp-server": 1.0},
    )
    assert run.ms_per_chat(found) == 30.0 and run.ms_per_chat(found, 2) == 10.0
    text = profile.render(run)
    assert "100 chats answered in 10 s (10.0/s), 2 skipped" in text
    assert "CPU ms per chat, every program: 40.0 (llm-orchestrator 30.0, mcp-server 10.0)" in text
    assert "llm-orchestrator: 30.00 ms CPU per chat" in text
    assert max(len(line) for line in text.splitlines()) <= profile.WIDTH
    kept = json.loads(json.dumps(run.as_json()))
    assert kept["programs_cpu_seconds"] == {"llm-orchestrator": 3.0, "mcp-server": 1.0}
    assert kept["profiles"]["llm-orchestrator"]["on_behalf_of"]["openai"] == 2


def test_py_spy_records_a_running_process_from_outside(tmp_path: Path) -> None:
    spinner = subprocess.Popen(
        [sys.executable, "-c", "def spin():\n    while True:\n        sum(range(1000))\nspin()"]
    )
    try:
        recording = profile.record(
            {"spinner": spinner.pid},
            {"spinner": [spinner.pid]},
            tmp_path,
            lambda: time.sleep(1.5),
            longest=10,
        )
    finally:
        spinner.kill()
        spinner.wait()
    (found,) = recording.profiles
    assert found.file == tmp_path / "spinner.speedscope.json" and found.file.exists()
    assert found.samples > 50 and found.cpu_seconds > 0.3  # a shared machine: whatever the spinner got
    assert found.own.most_common(1)[0][0] == Function("spin", "other")
    assert recording.groups_cpu["spinner"] == pytest.approx(found.cpu_seconds, rel=0.2)
    assert isinstance(found, Profile)
