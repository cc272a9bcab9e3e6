"""The profiles API: <home>/profiles/ listed newest first with each file's top function, one
profile's summary, the raw file for speedscope, and no way out of the directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airscope.console.app import create_app
from airscope.console.settings import ConsoleConfig
from tests.console.profile_files import write_cpu, write_memory

CPU = "20261207T181500Z-mcp-server-cpu.speedscope.json"
CPU_OLDER = "20261207T090000Z-api-gateway@2-cpu.speedscope.json"
MEMORY = "20261207T181200Z-mcp-server-memory.json"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def client(home: Path, tmp_path: Path) -> TestClient:
    config = ConsoleConfig(
        home=home,
        prometheus_url="http://127.0.0.1:9",
        alertmanager_url="http://127.0.0.1:9",
        notifications_file=tmp_path / "notifications.jsonl",
        log_dir=tmp_path / "logs",
        trace_dir=tmp_path / "traces",
        dashboards_dir=tmp_path / "dashboards",
        runbooks_dir=tmp_path / "runbooks",
    )
    return TestClient(create_app(config))


@pytest.fixture
def profiles(home: Path) -> Path:
    directory = home / "profiles"
    write_cpu(directory, CPU)
    write_cpu(directory, CPU_OLDER, burning=10, idle=90)
    write_memory(directory, MEMORY)
    return directory


def test_an_empty_or_missing_directory_lists_nothing(client, home):
    answer = client.get("/api/profiles")
    assert answer.status_code == 200
    assert answer.json() == {"directory": str(home / "profiles"), "profiles": []}


def test_the_list_is_newest_first_with_each_top(client, profiles):
    (profiles / "notes.txt").write_text("not a profile")
    (profiles / "20261207T181500Z-mcp-server-cpu.svg").write_text("<svg/>")
    listed = client.get("/api/profiles").json()["profiles"]
    assert [p["name"] for p in listed] == [CPU, MEMORY, CPU_OLDER]
    cpu, memory, older = listed
    assert cpu["kind"] == "cpu" and cpu["program"] == "mcp-server"
    assert cpu["when"] == "2026-12-07T18:15:00Z"
    assert cpu["url"] == f"/profiles/{CPU}" and cpu["raw"] == f"/api/profiles/{CPU}"
    assert cpu["bytes"] == (profiles / CPU).stat().st_size
    assert cpu["top"] == {
        "name": "burn_cpu",
        "file": "airscope/telemetry/_drills.py",
        "line": 41,
        "own": 0.7,
        "total": 0.7,
    }
    assert older["program"] == "api-gateway@2"
    assert older["top"]["name"] == "select"  # 90 of 100 samples idle
    assert memory["kind"] == "memory"
    assert memory["top"] == {
        "file": "airscope/telemetry/_drills.py",
        "line": 88,
        "grown_bytes": 52_428_800,
        "count": 50,
    }
    assert all(p["problem"] is None for p in listed)


def test_a_broken_file_is_listed_with_its_problem(client, profiles):
    (profiles / CPU).write_text('{"profiles": [')  # cut short, as by a crash
    listed = {p["name"]: p for p in client.get("/api/profiles").json()["profiles"]}
    assert listed[CPU]["top"] is None
    assert "not readable as a py-spy speedscope file" in listed[CPU]["problem"]
    assert listed[MEMORY]["problem"] is None


def test_a_cpu_summary_has_the_top_functions_and_the_samples(client, profiles):
    summary = client.get(f"/api/profiles/{CPU}/summary").json()
    assert summary["samples"] == 100 and summary["threads"] == 1
    assert [(f["name"], f["own"], f["total"]) for f in summary["functions"]] == [
        ("burn_cpu", 0.7, 0.7),
        ("select", 0.3, 0.3),
        ("run_forever", 0.0, 1.0),
        ("dispatch", 0.0, 0.7),
    ]


def test_a_memory_summary_has_its_lines(client, profiles):
    summary = client.get(f"/api/profiles/{MEMORY}/summary").json()
    assert summary["seconds"] == 10 and summary["peak_bytes"] == 53_500_000
    assert [line["line"] for line in summary["lines"]] == [88, 353, 510]


def test_the_raw_file_is_served_as_json(client, profiles):
    answer = client.get(f"/api/profiles/{CPU}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == json.loads((profiles / CPU).read_text())


@pytest.mark.parametrize(
    "name",
    [
        "20261207T000000Z-mcp-server-cpu.speedscope.json",  # the right shape, not there
        "..",
        "...json",
        "%2e%2e%2fsecret.json",
        "..%2Fsecret.json",
        "..%252Fsecret.json",
        "a/b/c",
        "20261207T181500Z-..-cpu.speedscope.json",
        "20261207T181500Z-mcp-server-cpu.speedscope.json.bak",
        "notes.txt",
    ],
)
def test_a_name_outside_the_profiles_is_a_404_with_a_message(client, profiles, name):
    (profiles.parent / "secret.json").write_text('{"key": "no"}')
    (profiles / "notes.txt").write_text("not a profile")
    for path in (f"/api/profiles/{name}", f"/api/profiles/{name}/summary"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert '"key"' not in answer.text
        if name != "..":  # which the client resolves before sending: /api/, no route
            assert "profiles are named" in answer.json()["message"]


def test_a_link_out_of_the_directory_is_not_followed(client, profiles, tmp_path):
    outside = write_cpu(tmp_path / "elsewhere", "20261207T181500Z-mcp-server-cpu.speedscope.json")
    name = "20261207T120000Z-mcp-server-cpu.speedscope.json"
    os.symlink(outside, profiles / name)
    assert client.get(f"/api/profiles/{name}").status_code == 404
    assert client.get(f"/api/profiles/{name}/summary").status_code == 404
    assert name not in [p["name"] for p in client.get("/api/profiles").json()["profiles"]]


def test_the_pages_are_the_shell(client):
    for path in ("/profiles", f"/profiles/{CPU}"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert '<script type="module" src="/static/app.js">' in answer.text


def test_speedscope_is_served_from_the_package(client):
    page = client.get("/static/speedscope/index.html")
    assert page.status_code == 200
    assert '<script src="speedscope-' in page.text
    assert "http" not in page.text.split("<body>")[1]  # nothing fetched from elsewhere
