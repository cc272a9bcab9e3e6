"""docs/slo.md says what the code does: the policy's steps are the gate's, the SLO table is the
catalog's with each budget's arithmetic, the commands and options it names exist, its links resolve."""

from __future__ import annotations

import re

from click.testing import CliRunner

from airscope import catalog, checkout
from airscope.cli import main
from airscope.gen import doc_tables
from airscope.slo import gate

DOC = checkout.root() / "docs" / "slo.md"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_policy_table_has_the_gates_steps():
    text = DOC.read_text()
    assert f"| {gate.WARN_REMAINING:.0%} or more |".replace("%", " %") in text
    assert f"| under {gate.WARN_REMAINING:.0%} |".replace("%", " %") in text
    assert (
        f"| under {gate.DEFAULT_MIN_REMAINING:.0%} (the gate's default `--min-budget`) |".replace("%", " %")
        in text
    )
    anchor = gate.POLICY.split("#")[1]
    assert anchor in {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_the_slo_table_is_the_catalogs_with_each_budget():
    table = doc_tables.slos(catalog.load())
    assert (
        "| api-gateway | availability | no 5xx, no 499 | 99.5% | 3 h 36 min | every user request enters here"
        in table
    )
    assert "| saga-orchestrator | latency | within 2.5 s | 95% | 36 h | a saga step calls" in table
    services = catalog.load().services.values()
    assert len(table.splitlines()) == 2 + 2 * len(services)
    for service in services:
        for sli in ("availability", "latency"):
            assert service.slo.reason(sli) in table


def test_the_commands_and_options_it_names_exist():
    checked = set()
    for span in re.findall(r"`(airscope slo[^`]*)`", DOC.read_text()):
        command = [word for word in span.split()[2:3] if word in ("report", "gate")]
        usage = CliRunner().invoke(main, ["slo", *command, "--help"]).output
        for option in re.findall(r"--[a-z-]+", span):
            assert option in usage, f"{span}: airscope slo {' '.join(command)} has no {option}"
            checked.add((*command, option))
    assert {("--tenant",), ("report", "--out"), ("gate", "--min-budget")} <= checked


def test_relative_links_resolve():
    for target in re.findall(r"\]\(([^)\s]+)\)", DOC.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        page = DOC.parent / path if path else DOC
        assert page.exists(), f"broken link {target}"
        if anchor and page.suffix == ".md":
            headings = {_anchor(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)}
            assert anchor in headings, f"no heading {anchor} in {page.name}"
