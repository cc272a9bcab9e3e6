"""docs/guide.md cannot rot: every command it gives is run, and every query and dashboard it names
is checked against what the code generates.

Conventions of the guide (its "Conventions" paragraph says the same to the reader):

- A runnable command is a line starting with ``$ `` in a ``console`` fenced block, run exactly as
  written from the repository's root by bash, against the e2e platform (conftest.py; AIRSCOPE_HOME
  and every port are set for it). The local platform's default ports (``localhost:7000``) and API
  key file (``$(cat var/api-key)``) become the e2e platform's, and ``<trace-id>`` the id of a chat
  this module sends. Each must exit 0 and answer: print something, or say on stderr that nothing
  matched. When the block shows output under a command, its first line is a header the real
  output must contain (whitespace-normalised).
- Commands that change the platform (stop, start, drill...) are kept in ``sh`` blocks; a runnable
  one fails the test.
- ``promql`` blocks hold one query a line; ``logql`` blocks one LogQL query a line.
- Dashboards are named `airscope / Title` (uid `uid`); panels are in *italics*.

The static tests need no platform; the ones marked ``infra`` share the session's platform: they
stop nothing and inject no fault.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from airscope import catalog
from airscope.local import observability
from airscope.stack import grafana, rules, settings
from airscope.stack.checks import promql
from airscope.stack.checks.dashboards import MATCHER_LABEL, SELECTOR
from tests.e2e.conftest import API_KEY, RunningPlatform
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"
DASHBOARDS = ROOT / grafana.dashboards.DIRECTORY
PROMPT = "$ "
# Subcommands that change what runs or inject faults: never in the runnable set.
CHANGES_THE_PLATFORM = {"up", "down", "stop", "start", "scale", "drill", "train", "load", "bench"}
API_KEY_FILE = "$(cat var/api-key)"
TRACE_ID = "<trace-id>"
NOTHING_MATCHED = re.compile(r"^no matching (line|trace) ")
COMMAND_TIMEOUT = 60
# Spans reach their files and exemplars their scrape a few seconds after the request.
PATIENCE = 30.0


@dataclass(frozen=True)
class Command:
    text: str  # as written after the prompt
    header: str | None  # the first output line the guide shows under it


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block, the lines without the fence's indentation."""
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    indent = 0
    for line in text.splitlines():
        stripped = line.strip()
        if current is None and stripped.startswith("```"):
            indent = len(line) - len(line.lstrip())
            current = (stripped[3:].strip(), [])
        elif current is not None and stripped == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current[1].append(line[indent:])
    assert current is None, "docs/guide.md: a fenced block is not closed"
    return blocks


def guide_blocks(language: str) -> list[list[str]]:
    return [lines for lang, lines in fenced_blocks(GUIDE.read_text()) if lang == language]


def commands() -> list[Command]:
    found: list[Command] = []
    for lines in guide_blocks("console"):
        for index, line in enumerate(lines):
            if not line.startswith(PROMPT):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else PROMPT
            header = None if following.startswith(PROMPT) or not following.strip() else following
            found.append(Command(line[len(PROMPT) :], header))
    return list(dict.fromkeys(found))  # a command the guide gives twice runs once


def queries(language: str) -> list[str]:
    return [line.strip() for lines in guide_blocks(language) for line in lines if line.strip()]


def normalised(text: str) -> str:
    return " ".join(text.split())


def prose() -> str:
    """The guide outside fenced blocks, wrapped lines joined (a panel's title wraps too)."""
    text = re.sub(r"^\s*```.*?^\s*```", "", GUIDE.read_text(), flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"\s*\n\s*", " ", text)


def airscope_subcommand(command: str) -> str | None:
    found = re.match(r"\.venv/bin/airscope (\S+)", command)
    return found[1] if found else None


# --- static: no platform --------------------------------------------------------------------------


def test_the_guide_runs_the_local_tools_and_nothing_that_changes_the_platform():
    texts = [command.text for command in commands()]
    subcommands = {airscope_subcommand(text) for text in texts}
    assert {"status", "alerts", "logs", "traces", "trace"} <= subcommands, subcommands
    for text in texts:
        assert text.startswith((".venv/bin/airscope ", "curl ")), f"`{text}`: neither airscope nor curl"
        assert airscope_subcommand(text) not in CHANGES_THE_PLATFORM, (
            f"`{text}` changes the platform: put it in an sh block, not a console one"
        )


def known_metrics() -> set[str]:
    recorded = {
        rule["record"]
        for group in rules.recording(catalog.load())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    return promql.exported_metrics() | recorded | set().union(*promql.EXTERNAL_METRICS.values())


def test_every_promql_query_parses_and_selects_metrics_that_exist():
    found = queries("promql")
    assert len(found) >= 10, found
    known = known_metrics()
    for query in found:
        try:
            names = promql.metric_names(query)
        except ValueError as error:
            pytest.fail(f"`{query}` is not PromQL: {error}")
        assert names, f"`{query}` selects no metric"
        assert names <= known, f"`{query}` selects {sorted(names - known)}, which nothing exports"


def test_every_logql_query_selects_only_lokis_labels():
    found = queries("logql")
    assert found
    for query in found:
        selectors = SELECTOR.findall(query)
        assert query.startswith("{") and selectors, f"`{query}` has no stream selector"
        labels = {label for selector in selectors for label in MATCHER_LABEL.findall(selector)}
        assert labels and labels <= set(settings.LOG_LABELS), (
            f"`{query}` selects {sorted(labels)}; Loki's labels are {settings.LOG_LABELS}"
        )


def generated_dashboards() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def test_the_dashboards_and_panels_named_are_generated_ones():
    boards = {board["uid"]: board["title"] for board in generated_dashboards()}
    panels = {panel.get("title") for board in generated_dashboards() for panel in grafana.walk_panels(board)}
    text = prose()
    for title, uid in re.findall(r"`(airscope / [^`]+)` \(uid `([\w-]+)`", text):
        assert boards.get(uid) == title, f"no dashboard {title!r} with uid {uid!r}"
    for title in re.findall(r"`(airscope / [^`]+)`", text):
        assert title in boards.values(), f"no dashboard titled {title!r}"
    for uid in re.findall(r"/d/([\w-]+)", text):
        assert uid in boards, f"link to /d/{uid}: no such dashboard"
    named = re.findall(r"(?<![*\w])\*([^*]+)\*(?![*\w])", re.sub(r"`[^`]*`", "", text))
    assert len(named) >= 10, named
    for panel in named:
        assert panel in panels, f"*{panel}* is in italics, but no generated dashboard has such a panel"


def test_relative_links_resolve():
    for target in re.findall(r"\]\(([^)\s]+)\)", GUIDE.read_text()):
        if not target.startswith(("http://", "https://", "#")):
            assert (GUIDE.parent / target.split("#")[0]).exists(), f"broken link {target}"


# --- on the platform ------------------------------------------------------------------------------


def default_ports() -> dict[str, int]:
    """Each program's port on a platform started with no AIRSCOPE_PORT_* set: the guide's ports."""
    cat = catalog.load()
    return {name: service.port for name, service in cat.services.items()} | dict(observability.DEFAULT_PORTS)


def on_the_platform(command: str, platform: RunningPlatform, trace_id: str) -> str:
    """The guide's command, pointed at the e2e platform instead of one on the default ports."""
    for name, port in default_ports().items():
        if name in platform.urls:
            command = re.sub(rf"\blocalhost:{port}\b", platform[name].removeprefix("http://"), command)
    unmapped = re.findall(r"localhost:\d+", command)
    assert not unmapped, f"`{command}`: {unmapped} is no port of the e2e platform; map it here"
    return command.replace(API_KEY_FILE, API_KEY).replace(TRACE_ID, trace_id)


@pytest.fixture(scope="module")
def chat(platform: RunningPlatform) -> dict:
    """One chat through the gateway, as in the guide, once its trace is on disk: its id and services."""
    answer = httpx.post(
        platform.api + "/chat",
        headers={"X-API-Key": API_KEY},
        json={"message": "List the tables in my base"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    trace_id = answer.headers["x-trace-id"]

    def traced() -> dict:
        result = run(f".venv/bin/airscope trace {trace_id} --json")
        assert result.returncode == 0, result.stderr
        trace = json.loads(result.stdout)
        assert {"api-gateway", "llm-orchestrator", "mcp-server", "airtable-gateway"} <= set(trace["services"])
        return trace

    trace = wait_until(traced, timeout=PATIENCE, interval=0.5, message=f"trace {trace_id} complete")
    return {"trace_id": trace_id, "services": trace["services"]}


def run(command: str) -> subprocess.CompletedProcess:
    # The platform fixture set AIRSCOPE_HOME and the ports in os.environ: the commands inherit them.
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


def what_it_shows(command: Command, output: str, chat: dict) -> None:
    """What the guide says each kind of command shows, beyond answering at all."""
    if command.header:
        assert normalised(command.header) in normalised(output), f"no `{command.header}` in:\n{output}"
    if TRACE_ID in command.text:
        # `airscope logs` shows a trace id's first 8 digits; `trace` draws every service it crossed.
        assert chat["trace_id"][:8] in output, output
    if airscope_subcommand(command.text) == "trace":
        for service in chat["services"]:
            assert service in output, f"the trace crossed {service}, not shown in:\n{output}"
    if command.text.startswith("curl -si ") and "/api/" in command.text:
        assert re.search(r"^x-trace-id: [0-9a-f]{32}\s*$", output, re.IGNORECASE | re.MULTILINE), output
    if "/api/health" in command.text:
        for service in catalog.load().services:
            assert service in output, f"{service} missing from the gateway's health document"
    if "query_exemplars" in command.text:
        assert '"trace_id"' in output, f"no exemplar with a trace_id: {output}"


@pytest.mark.infra
@pytest.mark.parametrize("command", commands(), ids=lambda command: command.text)
def test_the_guides_command_runs_and_shows_what_the_guide_says(
    platform: RunningPlatform, chat: dict, command
):
    line = on_the_platform(command.text, platform, chat["trace_id"])

    def answers() -> bool:
        result = run(line)
        # `airscope status` exits 1 while anything is unhealthy: an earlier test's alert resolving.
        assert result.returncode == 0, f"`{line}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
        assert result.stdout.strip() or NOTHING_MATCHED.match(result.stderr), f"`{line}` printed nothing"
        what_it_shows(command, result.stdout, chat)
        return True

    patience = 45 if airscope_subcommand(command.text) == "status" else PATIENCE
    wait_until(answers, timeout=patience, interval=0.5, message=f"`{line}` as the guide says")
