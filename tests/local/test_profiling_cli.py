"""`airscope profile`: which profile each flag takes of which instance, what it prints, and its errors
as one line (the profiling itself is faked: tests/local/test_profiling.py and the e2e test take real ones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local import profiling
from airscope.local.profiling import FunctionShare, MemoryLine


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple]:
    made: list[tuple] = []

    def locate(service: str, instance: int = 1) -> profiling.Target:
        program = service if instance == 1 else f"{service}@{instance}"
        made.append(("locate", service, instance))
        return profiling.Target(service, program, 4242, "http://127.0.0.1:7001", tmp_path)

    def record_cpu(pid, *, service, program, seconds, out_dir, idle=False, progress=None, **_):
        made.append(("cpu", pid, program, seconds, idle, out_dir))
        top = (FunctionShare("burn_cpu", "/x/airscope/telemetry/_drills.py", 60, 0.7, 0.7),)
        return profiling.CpuProfile(
            service, program, pid, seconds, 300, out_dir / "t-cpu.speedscope.json", top
        )

    def record_memory(url, *, service, program, seconds, out_dir, top=20):
        made.append(("memory", url, program, seconds, top))
        lines = (MemoryLine("/x/airscope/telemetry/_drills.py", 50, 50 * 2**20, 2),)
        return profiling.MemoryProfile(
            service, program, seconds, 51 * 2**20, 52 * 2**20, out_dir / "m.json", lines
        )

    def dump(pid: int) -> str:
        made.append(("dump", pid))
        return 'Thread 1 (idle): "MainThread"\n    run (uvicorn/server.py:1)\n'

    monkeypatch.setattr(profiling, "locate", locate)
    monkeypatch.setattr(profiling, "record_cpu", record_cpu)
    monkeypatch.setattr(profiling, "record_memory", record_memory)
    monkeypatch.setattr(profiling, "dump", dump)
    return made


def test_a_cpu_profile_by_default_of_the_instance_asked(calls: list[tuple], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["profile", "mcp-server", "--instance", "2", "--duration", "5s", "--idle"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0] == ("locate", "mcp-server", 2)
    assert calls[1] == ("cpu", 4242, "mcp-server@2", 5.0, True, tmp_path / "profiles")
    assert "burn_cpu" in result.stdout and "airscope/telemetry/_drills.py:60" in result.stdout
    assert "sampling mcp-server@2 (pid 4242) with py-spy for 5s" in result.stderr


def test_json_prints_the_entry(calls: list[tuple]) -> None:
    result = CliRunner().invoke(main, ["profile", "mcp-server", "--duration", "1s", "--json"])
    entry = json.loads(result.stdout)
    assert entry["kind"] == "cpu" and entry["top"][0]["name"] == "burn_cpu" and entry["samples"] == 300


def test_memory_goes_through_the_instance_s_url(calls: list[tuple]) -> None:
    result = CliRunner().invoke(main, ["profile", "mcp-server", "--memory", "--duration", "1m", "--top", "5"])
    assert result.exit_code == 0, result.output
    assert calls[1] == ("memory", "http://127.0.0.1:7001", "mcp-server", 60.0, 20)
    assert "airscope/telemetry/_drills.py:50" in result.stdout and "50MiB" in result.stdout


def test_dump_prints_the_stacks(calls: list[tuple]) -> None:
    result = CliRunner().invoke(main, ["profile", "api-gateway", "--dump"])
    assert result.exit_code == 0 and '"MainThread"' in result.stdout
    assert (
        json.loads(CliRunner().invoke(main, ["profile", "api-gateway", "--dump", "--json"]).stdout)["pid"]
        == 4242
    )


def test_memory_and_dump_together_are_refused(calls: list[tuple]) -> None:
    result = CliRunner().invoke(main, ["profile", "api-gateway", "--dump", "--memory"])
    assert result.exit_code == 2 and "ask for one" in result.output and calls == []


def test_a_profile_that_cannot_be_taken_is_one_line_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(service: str, instance: int = 1) -> profiling.Target:
        raise profiling.ProfileError("the local platform is not running (home /h): start it with `make up`")

    monkeypatch.setattr(profiling, "locate", refuse)
    result = CliRunner().invoke(main, ["profile", "api-gateway"])
    assert result.exit_code == 1
    assert (
        result.output.strip() == "Error: the local platform is not running (home /h): start it with `make up`"
    )
