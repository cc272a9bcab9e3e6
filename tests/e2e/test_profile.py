"""`airscope profile` on the running platform: under `airscope load`, a CPU burner switched on in the
gateway (`PUT /_drill/cpu`) is named among the top functions of a 5 s profile that finishes within
5 + 3 s; a memory profile names the drill's allocation; a dump shows the main thread (about 20 s)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from airscope.stack.settings import KIT_ROUTES
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

AIRSCOPE = str(Path(sys.executable).with_name("airscope"))
BURNED = "api-gateway"  # every action of the load passes it
SECONDS = 5
GRACE = 3  # the goal: a profile finishes within its duration + 3 s
MIB = 1024 * 1024


def _airscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([AIRSCOPE, *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


def served(url: str) -> float:
    """Requests the service has answered, probes and scrapes left out."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_server_request_duration_seconds_count"
        and sample.labels.get("route") not in KIT_ROUTES
    )


@pytest.fixture
def burner(platform: RunningPlatform):
    url = f"{platform[BURNED]}/_drill/cpu"
    httpx.put(url, json={"ms_per_request": 30}, timeout=5).raise_for_status()
    try:
        yield
    finally:
        httpx.delete(url, timeout=5).raise_for_status()


def test_a_profile_under_load_names_the_burner_within_its_duration_and_3_seconds(
    platform: RunningPlatform, burner: None
) -> None:
    load = subprocess.Popen(
        [AIRSCOPE, "load", "--rps", "5", "--duration", f"{SECONDS + 15}s", "--seed", "23"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The load's process starts (seconds, on a busy machine) and its actions reach the gateway.
        before = served(platform[BURNED])
        wait_until(lambda: served(platform[BURNED]) >= before + 5, timeout=20, message="the load's requests")
        began = time.monotonic()
        done = _airscope("profile", BURNED, "--duration", f"{SECONDS}s", "--json")
        took = time.monotonic() - began
    finally:
        load.terminate()
        load.wait(timeout=15)
    profile = json.loads(done.stdout)
    assert took <= SECONDS + GRACE, f"{took:.1f} s"
    names = [function["name"] for function in profile["top"][:5]]
    assert "burn_cpu" in names, profile["top"][:5]
    assert profile["samples"] > 50 and profile["program"] == BURNED
    written = Path(profile["path"])
    assert written.parent == platform.home / "profiles" and written.exists()
    assert profile["url"].endswith(f"/profiles/{written.name}")


def test_a_memory_profile_names_the_line_that_holds_the_memory(platform: RunningPlatform) -> None:
    held = f"{platform['mcp-server']}/_drill/memory"
    profile = subprocess.Popen(
        [AIRSCOPE, "profile", "mcp-server", "--memory", "--duration", "6s", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The command starts (its imports take a second or two on a busy machine) and the service is
        # tracing before the memory is taken; the window has 3 s left then.
        time.sleep(3)
        httpx.put(held, json={"bytes": 50 * MIB}, timeout=30).raise_for_status()
        out, err = profile.communicate(timeout=30)
    finally:
        httpx.delete(held, timeout=10)
        if profile.poll() is None:
            profile.kill()
    assert profile.returncode == 0, err
    found = json.loads(out)
    files = [line["file"] for line in found["top"][:3]]
    assert any(file.endswith("_drills.py") for file in files), found["top"][:3]
    assert found["traced_bytes"] >= 50 * MIB


def test_a_dump_shows_every_thread_and_the_main_one(platform: RunningPlatform) -> None:
    done = _airscope("profile", "mcp-server", "--dump")
    assert '"MainThread"' in done.stdout and "uvicorn" in done.stdout
