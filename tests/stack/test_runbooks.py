"""The runbooks the generated alerts link to: one page per alert, each with the same sections, all
listed in docs/runbooks/README.md, whose service table agrees with the catalog."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import settings
from airscope.stack.checks import promql

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
INDEX = RUNBOOKS / "README.md"
ALERTS_PATH = "deploy/prometheus/rules/alerts.yml"
RECORDING_PATH = "deploy/prometheus/rules/recording.yml"
# Every runbook has these second-level headings, in this order.
SECTIONS = ("Meaning", "Impact", "First checks", "Causes", "Remediation", "Escalation", "Inhibitions")
RUNBOOK_URL = re.compile(r"/docs/runbooks/(?P<name>[A-Za-z0-9]+)\.md$")


@functools.cache
def generated() -> dict[str, str]:
    return stack.generate()


def rules_in(path: str) -> list[dict]:
    return [rule for group in yaml.safe_load(generated()[path])["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict]:
    return rules_in(ALERTS_PATH)


def alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alert_rules()})


def runbook_name(rule: dict) -> str:
    url = rule["annotations"]["runbook_url"]
    found = RUNBOOK_URL.search(url)
    assert found, f"{rule['alert']}: runbook_url {url!r} does not end in docs/runbooks/<AlertName>.md"
    return found["name"]


def headings(text: str, level: int) -> list[str]:
    marker = "#" * level + " "
    return [line[len(marker) :].strip() for line in text.splitlines() if line.startswith(marker)]


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of each body row of the Markdown table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith(header_start)]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_rules_name_a_runbook_per_alert():
    assert alert_names(), "no alert in the generated rules"
    for rule in alert_rules():
        assert rule["annotations"]["runbook_url"] == f"{settings.RUNBOOK_BASE_URL}/{rule['alert']}.md"
        assert runbook_name(rule) == rule["alert"]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: f"{rule['alert']}-{rule['labels']}")
def test_every_alert_has_its_runbook_with_every_section(rule):
    path = RUNBOOKS / f"{runbook_name(rule)}.md"
    assert path.is_file(), f"{rule['alert']} links to docs/runbooks/{path.name}, which does not exist"
    text = path.read_text()
    assert headings(text, 1) == [rule["alert"]], f"{path.name}: the title must be '# {rule['alert']}'"
    assert tuple(headings(text, 2)) == SECTIONS, f"{path.name}: sections must be exactly {SECTIONS}"
    for section in text.split("\n## ")[1:]:
        body = section.split("\n", 1)[1] if "\n" in section else ""
        assert body.strip(), f"{path.name}: section {section.splitlines()[0]!r} is empty"


def test_no_runbook_without_an_alert():
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(alert_names()), f"pages without an alert: {sorted(pages - set(alert_names()))}"


def test_the_index_lists_every_alert_with_its_severities():
    rows = table_rows(INDEX.read_text(), "| alert | severity |")
    listed = {}
    for cells in rows:
        link = re.fullmatch(r"\[(\w+)\]\((\w+)\.md\)", cells[0])
        assert link and link[1] == link[2], f"index row {cells[0]!r}: expected [Name](Name.md)"
        listed[link[1]] = set(cells[1].split(", "))
    severities: dict[str, set[str]] = {}
    for rule in alert_rules():
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert listed == severities, (
        "docs/runbooks/README.md's alert table must list every alert and its severities"
    )


def _percent(share: float) -> str:
    return f"{round(share * 100, 3):g}%"


def _names(cell: str) -> set[str]:
    return {name for name in cell.split(", ") if name}


def test_the_index_services_table_matches_the_catalog():
    current = catalog.load(catalog.DEFAULT_PATH)
    rows = {cells[0].strip("`"): cells for cells in table_rows(INDEX.read_text(), "| service | port |")}
    assert set(rows) == set(current.services)
    for name, service in current.services.items():
        _, port, owner, tier, requires, calls, external, slo, memory, _dashboard = rows[name]
        assert (port, owner, tier) == (str(service.port), service.owner, str(service.tier)), name
        assert _names(requires) == set(service.requires), name
        assert _names(calls) == set(service.calls), name
        assert _names(external) == set(service.external), name
        expected_slo = (
            f"{_percent(service.slo.availability)}; {_percent(service.slo.latency_target)} "
            f"under {service.slo.latency_seconds:g} s"
        )
        assert slo == expected_slo, name
        assert memory == f"{service.memory_limit_mib} MiB", name


def test_relative_links_resolve():
    for path in RUNBOOKS.glob("*.md"):
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if target.startswith(("http://", "https://", "#")):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken link {target}"


def test_the_promql_in_the_runbooks_selects_what_exists():
    """Inline code that parses as PromQL (LogQL and TraceQL start with '{' and are skipped) selects
    only metrics a service, a recording rule or an exporter provides, or alert names."""
    known = (
        promql.exported_metrics()
        | {rule["record"] for rule in rules_in(RECORDING_PATH)}
        | set().union(*promql.EXTERNAL_METRICS.values())
        | set(alert_names())
    )
    checked = 0
    for path in RUNBOOKS.glob("*.md"):
        text = re.sub(r"\n\s+", " ", path.read_text())  # code spans wrapped over lines
        for span in re.findall(r"`([^`]+)`", text):
            if span.startswith("{") or not re.search(r"[{(]", span):
                continue
            try:
                names = promql.metric_names(re.sub(r"<[a-z_]+>", "x", span))
            except ValueError:
                continue  # not PromQL: a shell command, a path
            checked += 1
            assert names <= known, f"{path.name}: `{span}` selects unknown {sorted(names - known)}"
    assert checked, "no PromQL found in the runbooks"


@pytest.mark.parametrize("key", sorted(settings.ALERT_FOR))
def test_each_runbook_quotes_its_alerts_for_in_both_profiles(key: str):
    compose, local = settings.ALERT_FOR[key]
    text = (RUNBOOKS / f"{key.split(':')[0]}.md").read_text()
    meaning = text.split("## Meaning", 1)[1].split("\n## ", 1)[0]
    assert f"**{compose}**" in meaning, f"{key}: the Meaning section does not quote `for: {compose}`"
    if local != compose:
        assert f"local mode: {local}" in meaning, (
            f"{key}: the Meaning section does not quote local `for: {local}`"
        )
