"""docs/procedures/cleanup.md cannot rot: its `console` lines run against the e2e platform, every
`airscope` command it gives parses, and the clean-ups it describes work end to end through the
gateway: a file given up during an Airtable outage is replayed with `airscope jobs replay` and
imported, and `airscope users revoke-tokens` ends a user's logins.

The same conventions as docs/guide.md (tests/e2e/test_guide.py): `$ ` lines in `console` blocks
change nothing; what changes the platform is in `sh` blocks and runs here as the drill below."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import API_KEY, RunningPlatform
from tests.e2e.test_guide import PROMPT, fenced_blocks, on_the_platform, run
from tests.stack.test_runbooks import parse_command
from tests.support import wait_until

PAGE = Path(__file__).resolve().parents[2] / "docs" / "procedures" / "cleanup.md"
READ_ONLY = ("sagas list", "jobs list")
BASE = "appAirscopeDemo01"


def console_commands() -> list[str]:
    return [
        line[len(PROMPT) :]
        for language, lines in fenced_blocks(PAGE.read_text())
        if language == "console"
        for line in lines
        if line.startswith(PROMPT)
    ]


def airscope_commands() -> list[str]:
    found = []
    for _, lines in fenced_blocks(PAGE.read_text()):
        for line in lines:
            line = line.removeprefix(PROMPT).strip()
            if line.startswith(".venv/bin/airscope "):
                found.append(re.sub(r"\s*\[[^]]*\]", "", line))  # an optional [<job-id>...]
    return found


# --- static: no platform --------------------------------------------------------------------------


def test_the_console_lines_change_nothing() -> None:
    commands = console_commands()
    assert commands
    for command in commands:
        airscope = re.match(r"\.venv/bin/airscope (\w+ \w+)", command)
        assert (airscope and airscope[1] in READ_ONLY) or command.startswith("curl -s 'localhost:9090/"), (
            f"`{command}` may change the platform: put it in an sh block"
        )


@pytest.mark.parametrize("command", airscope_commands())
def test_every_airscope_command_parses(command: str) -> None:
    parse_command(command)


# --- on the e2e platform --------------------------------------------------------------------------


@pytest.mark.infra
@pytest.mark.parametrize("command", console_commands())
def test_the_console_lines_run(platform: RunningPlatform, command: str) -> None:
    result = run(on_the_platform(command, platform, trace_id=""))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"`{command}` printed nothing"


def airscope(command: str) -> str:
    result = run(".venv/bin/airscope " + command)
    assert result.returncode == 0, f"airscope {command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.infra
def test_a_file_given_up_in_an_outage_is_replayed_and_imported(platform: RunningPlatform) -> None:
    key = {"X-API-Key": API_KEY}
    faults = platform["standin-airtable"] + "/_admin/faults"
    httpx.put(faults, json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        uploaded = httpx.post(
            platform.api + "/automation/files",
            headers=key,
            files={"file": ("cleanup.csv", b"Name\nReplayed by the cleanup procedure\n", "text/csv")},
            data={"base_id": BASE, "table": "Products"},
            timeout=10,
        )
        assert uploaded.status_code == 202, uploaded.text
        file_id = uploaded.json()["id"]

        def dead_lettered() -> dict:
            jobs = {job["id"]: job for job in json.loads(airscope("jobs list --json"))}
            assert file_id in jobs
            return jobs[file_id]

        # Three attempts with back-offs of 5 and 10 s.
        job = wait_until(dead_lettered, timeout=60, interval=1, message=f"{file_id} dead-lettered")
    finally:
        httpx.delete(faults, timeout=5).raise_for_status()
    assert (job["queue"], job["status"]) == ("imports", "failed")

    assert f"imports {file_id}: replayed" in airscope(f"jobs replay {shlex.quote(file_id)}")

    def imported() -> dict:
        status = httpx.get(f"{platform.api}/automation/files/{file_id}", headers=key, timeout=10).json()
        assert status["status"] == "completed", status
        return status

    assert wait_until(imported, timeout=30, interval=0.5, message="the replayed file")["rows_imported"] == 1
    assert file_id not in {job["id"] for job in json.loads(airscope("jobs list --json"))}


@pytest.mark.infra
def test_revoking_a_users_tokens_ends_their_logins(platform: RunningPlatform) -> None:
    email, password = "cleanup-procedure@example.com", "cleanup-procedure-pw"
    httpx.post(platform.api + "/auth/register", json={"email": email, "password": password}, timeout=10)
    tokens = httpx.post(platform.api + "/auth/login", json={"email": email, "password": password}, timeout=10)
    assert tokens.status_code == 200, tokens.text

    revoked = json.loads(airscope(f"users revoke-tokens {email} --json"))

    assert revoked["email"] == email and revoked["revoked"] >= 1
    refused = httpx.post(
        platform.api + "/auth/refresh",
        headers={"Authorization": "Bearer " + tokens.json()["access_token"]},
        json={"refresh_token": tokens.json()["refresh_token"]},
        timeout=10,
    )
    assert refused.status_code == 401, refused.text
