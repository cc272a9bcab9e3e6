"""docs/procedures/deploy.md and backup-restore.md cannot rot: every command local mode can run is
run against the e2e platform, and each drill proves what the page says it does.

The conventions are the guide's (tests/e2e/test_guide.py), with one more kind of block:

- ``$ `` lines in ``console`` blocks change nothing; each runs from the repository's root and must
  exit 0 and print something. Besides ``airscope`` and ``curl``, ``amtool`` (Debian's, against the
  local Alertmanager).
- ``sh`` blocks are production commands or change what runs: never run.
- ``sh drill`` blocks are local drills: each block runs as one bash script (``set -e``), and the
  test around it checks the effect the page promises (a restored database serves the platform, a
  downgraded schema comes back with the service, an exported silence silences again).

In every command ``localhost:<default port>`` becomes the e2e platform's port and ``var/`` its home.
The drills stop and start platform-services and replace its database with a dump taken moments
before (only this module's own users are written in between): the platform is whole again after
each, for the tests that follow.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from airscope import catalog
from airscope.local import migrations
from airscope.stack import compose
from tests.e2e import test_guide as guide
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROCEDURES = ROOT / "docs" / "procedures"
PAGES = [PROCEDURES / "deploy.md", PROCEDURES / "backup-restore.md"]
RUNBOOKS = ROOT / "docs" / "runbooks"
PROMPT = "$ "
DRILL = "sh drill"
READ_ONLY_TOOLS = (".venv/bin/airscope ", "curl ", "amtool ")
# Subcommands (and sub-subcommands) that change data or what runs: never in a console block.
CHANGES = guide.CHANGES_THE_PLATFORM | {"restore", "migrate upgrade", "migrate downgrade"}
AMTOOL_CHANGES = re.compile(r"\bsilence (add|expire|import)\b")
DRILL_TIMEOUT = 240
SCRATCH = "platform_services_check"


def blocks(page: Path, language: str) -> list[list[str]]:
    return [lines for lang, lines in guide.fenced_blocks(page.read_text()) if lang == language]


def console_commands(page: Path) -> list[str]:
    return [
        line[len(PROMPT) :] for lines in blocks(page, "console") for line in lines if line.startswith(PROMPT)
    ]


def drills(page: Path) -> list[str]:
    return ["\n".join(lines) for lines in blocks(page, DRILL)]


def drill(page: Path, *words: str, without: str = "\0") -> str:
    """The one drill of ``page`` that holds every one of ``words`` (and not ``without``)."""
    found = [t for t in drills(page) if all(word in t for word in words) and without not in t]
    assert len(found) == 1, f"{page.name}: {len(found)} drills hold {words}"
    return found[0]


def subcommand(command: str) -> str | None:
    found = re.match(r"\.venv/bin/airscope (\S+)(?: (\S+))?", command)
    if not found:
        return None
    return f"{found[1]} {found[2]}" if found[2] and found[1] == "migrate" else found[1]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^\s*```.*?^\s*```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


# --- static: no platform --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_console_commands_are_local_tools_that_change_nothing(page):
    commands = console_commands(page)
    assert commands, f"{page.name} has no runnable command"
    for command in commands:
        assert command.startswith(READ_ONLY_TOOLS), f"`{command}`: not one of {READ_ONLY_TOOLS}"
        assert subcommand(command) not in CHANGES, f"`{command}` changes the platform: a sh block"
        assert not AMTOOL_CHANGES.search(command), f"`{command}` changes silences: a sh block"


def test_the_drills_the_tests_below_run_are_on_the_pages():
    assert len(drills(PROCEDURES / "deploy.md")) == 2
    assert len(drills(PROCEDURES / "backup-restore.md")) == 3
    for page in PAGES:
        for text in drills(page):
            for line in text.splitlines():
                assert line.startswith((".venv/bin/airscope ", "amtool ")), f"{page.name}: `{line}`"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_resolve_to_files_and_headings(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: broken link {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: no heading #{anchor} in {linked.name}"


def test_runbooks_that_say_roll_back_link_the_procedure():
    """A runbook's "roll back" is a step someone takes at 3 a.m.: it says where the steps are."""
    said = 0
    for runbook in sorted(RUNBOOKS.glob("*.md")):
        for line in runbook.read_text().splitlines():
            if re.search(r"\broll(ing)? back\b", line, re.IGNORECASE):
                said += 1
                assert "../procedures/deploy.md#roll-back" in line, f"{runbook.name}: `{line.strip()}`"
    assert said >= 4
    assert "roll-back" in anchors(PROCEDURES / "deploy.md")


def test_the_backup_page_names_every_volume_of_the_compose_file():
    volumes = set(compose.compose(catalog.load())["volumes"])
    table = (PROCEDURES / "backup-restore.md").read_text().split("## What is lost with each volume")[1]
    named = set(re.findall(r"^\| `([\w-]+)`", table, re.MULTILINE))
    assert named == volumes


# --- on the platform ------------------------------------------------------------------------------


def on_the_platform(command: str, platform: RunningPlatform) -> str:
    return guide.on_the_platform(command, platform, trace_id="").replace("var/", f"{platform.home}/")


def run(script: str, timeout: float = guide.COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_drill(text: str, platform: RunningPlatform) -> str:
    try:
        result = run(on_the_platform(text, platform), timeout=DRILL_TIMEOUT)
    finally:
        if "stop platform-services" in text:  # whatever happened, the next tests need it running
            run(".venv/bin/airscope start platform-services")
    assert result.returncode == 0, (
        f"drill exited {result.returncode}:\n{text}\n{result.stdout}{result.stderr}"
    )
    return result.stdout


def ready(platform: RunningPlatform) -> None:
    answer = httpx.get(platform["platform-services"] + "/health/ready", timeout=5)
    assert answer.status_code == 200, answer.text


@pytest.mark.infra
@pytest.mark.parametrize(
    "command",
    [(page.name, command) for page in PAGES for command in console_commands(page)],
    ids=lambda pair: f"{pair[0]}: {pair[1]}",
)
def test_the_console_command_runs(platform: RunningPlatform, command):
    line = on_the_platform(command[1], platform)
    result = run(line)
    assert result.returncode == 0, f"`{line}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
    assert result.stdout.strip(), f"`{line}` printed nothing"


def sign_up(platform: RunningPlatform) -> dict:
    # Made up at run time: a password literal is what the secret scan looks for.
    user = {"email": f"drill-{uuid.uuid4().hex[:8]}@example.com", "password": uuid.uuid4().hex}
    answer = httpx.post(platform.api + "/auth/register", json=user, timeout=10)
    assert answer.status_code == 201, answer.text
    return user


def login_status(platform: RunningPlatform, user: dict) -> int:
    return httpx.post(platform.api + "/auth/login", json=user, timeout=10).status_code


async def _emails(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return {row["email"] for row in await connection.fetch("SELECT email FROM users")}
    finally:
        await connection.close()


async def _drop(dsn: str, database: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.mark.infra
def test_the_restore_drill_gives_back_a_database_that_serves_the_platform(platform: RunningPlatform):
    page = PROCEDURES / "backup-restore.md"
    superuser = platform["postgres"].replace("http://", "postgresql://postgres@") + "/"
    before = sign_up(platform)
    backups = [c for c in console_commands(page) if subcommand(c) == "backup"]
    assert backups
    for command in backups:
        assert run(on_the_platform(command, platform)).returncode == 0
    after = sign_up(platform)  # written after the dump: the restore loses it

    try:
        checked = run_drill(drill(page, "--into"), platform)
        assert f"{SCRATCH} created" in checked and "public.users" in checked, checked
        scratch = asyncio.run(_emails(superuser + SCRATCH))
        assert before["email"] in scratch and after["email"] not in scratch
    finally:
        asyncio.run(_drop(superuser + "postgres", SCRATCH))

    restored = run_drill(drill(page, "stop platform-services", "restore"), platform)
    assert "platform_services replaced" in restored, restored
    ready(platform)
    assert login_status(platform, before) == 200  # in the dump: signs in through the gateway
    assert login_status(platform, after) == 401  # signed up after the dump: gone
    sign_up(platform)  # and the restored database takes writes


@pytest.mark.infra
def test_the_migration_drill_goes_one_revision_down_and_the_service_brings_it_back(
    platform: RunningPlatform,
):
    ids = [revision.id for revision in migrations.history()]
    head, below = ids[-1], ids[-2]
    output = run_drill(drill(PROCEDURES / "deploy.md", "migrate downgrade"), platform)
    assert f"downgraded {head} -> {below}" in output, output
    assert f"database at {below}; code head {head}" in output, output
    assert output.rstrip().endswith(f"database at {head}; code head {head}"), output
    ready(platform)
    assert login_status(platform, sign_up(platform)) == 200


@pytest.mark.infra
def test_the_deploy_drill_restarts_the_service_on_the_checked_out_code(platform: RunningPlatform):
    output = run_drill(drill(PROCEDURES / "deploy.md", "stop platform-services", without="migrate"), platform)
    assert "stopped: platform-services" in output and "started: platform-services" in output, output
    ready(platform)


@pytest.mark.infra
def test_an_exported_silence_silences_again_after_it_was_lost(platform: RunningPlatform):
    alertmanager = platform["alertmanager"] + "/api/v2"
    comment = f"backup drill {uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": "ProcedureDrill", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "tests/e2e/test_procedures.py",
        "comment": comment,
    }
    answer = httpx.post(alertmanager + "/silences", json=silence, timeout=5)
    assert answer.status_code == 200, answer.text
    original = answer.json()["silenceID"]

    run_drill(drill(PROCEDURES / "backup-restore.md", "silence import"), platform)

    def active() -> list[dict]:
        found = httpx.get(alertmanager + "/silences", timeout=5).json()
        return [s for s in found if s["comment"] == comment and s["status"]["state"] == "active"]

    try:
        back = wait_until(active, timeout=10, interval=0.5, message="the imported silence active")
        assert [s["id"] for s in back] != [original]  # a new silence, the same matchers
        assert back[0]["matchers"][0]["value"] == "ProcedureDrill"
        assert (platform.home / "silences.json").exists()
    finally:
        for kept in active():
            httpx.delete(f"{alertmanager}/silence/{kept['id']}", timeout=5)
