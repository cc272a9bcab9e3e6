"""docs/procedures/incident.md and post-incident-review.md name only what exists: their links resolve,
the dashboards and panels they name are generated ones, the alerts are ours, and the commands they
give to run are read-only ones (tests/e2e/test_cookbooks.py runs them on a platform)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airscope.stack import grafana
from tests.e2e.test_guide import fenced_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "docs/procedures/incident.md", ROOT / "docs/procedures/post-incident-review.md"]
RUNBOOKS = ROOT / "docs/runbooks"
READ_ONLY = {"status", "alerts"}


def console_commands(path: Path) -> list[str]:
    return [
        line.removeprefix("$ ")
        for lang, lines in fenced_blocks(path.read_text())
        if lang == "console"
        for line in lines
        if line.startswith("$ ")
    ]


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_relative_links_resolve(path):
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if not target.startswith(("http://", "https://", "#")):
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken link {target}"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_dashboards_panels_and_alerts_named_exist(path):
    boards = [json.loads(p.read_text()) for p in sorted((ROOT / grafana.dashboards.DIRECTORY).glob("*.json"))]
    titles = {board["title"] for board in boards}
    uids = {board["uid"] for board in boards}
    panels = {panel.get("title") for board in boards for panel in grafana.walk_panels(board)}
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    text = re.sub(r"\s*\n\s*", " ", text)
    for title in re.findall(r"`(airscope / [^`]+)`", text):
        assert title in titles, f"{path.name}: no dashboard titled {title!r}"
    for uid in re.findall(r"\(uid `([\w-]+)`", text):
        assert uid in uids, f"{path.name}: no dashboard with uid {uid!r}"
    for panel in re.findall(r"(?<![*\w])\*([^*]+)\*(?![*\w])", re.sub(r"`[^`]*`", "", text)):
        assert panel in panels, f"{path.name}: *{panel}* is no panel of a generated dashboard"
    alerts = {runbook.stem for runbook in RUNBOOKS.glob("*.md")} - {"README"}
    for name in re.findall(r"`([A-Z][A-Za-z]+)`", text):
        if name.endswith(("Down", "Burn", "Failing", "Abuse", "Latency", "Rate", "Watchdog")):
            assert name in alerts, f"{path.name}: `{name}` is no alert with a runbook"


def test_the_incident_commands_to_run_only_read():
    commands = console_commands(DOCS[0])
    assert {"status", "alerts"} <= {re.match(r"\.venv/bin/airscope (\S+)", c)[1] for c in commands}
    for command in commands:
        found = re.match(r"\.venv/bin/airscope (\S+)", command)
        assert found and found[1] in READ_ONLY, f"`{command}` in a console block: only {READ_ONLY} run there"


def test_the_first_status_message_template_has_what_an_update_needs():
    text = DOCS[0].read_text()
    template = next(lines for lang, lines in fenced_blocks(text) if lang == "text")
    fields = {line.split(":")[0] for line in template}
    assert {"Impact", "Services", "Status", "What we know", "What we are doing", "Next update"} <= fields


def test_the_review_template_has_every_section():
    text = DOCS[1].read_text()
    template = "\n".join(next(lines for lang, lines in fenced_blocks(text) if lang == "markdown"))
    for section in (
        "Summary",
        "Impact",
        "Timeline",
        "Detection",
        "Root cause",
        "What went well",
        "What went badly",
        "Action items",
    ):
        assert f"## {section}" in template, section
    assert "owner" in template.split("## Action items")[1]


def test_training_exercise_7_points_to_the_template():
    assert "../procedures/post-incident-review.md" in (ROOT / "docs/training/07-game-day.md").read_text()
