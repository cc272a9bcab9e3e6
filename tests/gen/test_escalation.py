"""The runbooks' Escalation sections: who gets each alert, page or chat, written from the catalog's
teams and the rules by `airscope gen` (gen/escalation.py)."""

from __future__ import annotations

import re

import pytest
import yaml

from airscope import catalog, checkout
from airscope.errors import AirscopeError
from airscope.gen import escalation
from airscope.gen.doc_tables import END, START, alerting_rules

ROOT = checkout.root()
MARK = START.format(name=escalation.MARKER)


def section(text: str) -> str:
    return re.search(r"\n## Escalation\n(.*?)\n## ", text, re.DOTALL)[1]


def moved(service: str, team: str) -> catalog.Catalog:
    data = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    data["services"][service]["owner"] = team
    return catalog.parse(data)


def test_every_runbook_of_an_alert_has_the_block_in_its_escalation_section():
    names = dict.fromkeys(rule.name for rule in alerting_rules(catalog.load()))
    for name in names:
        path = ROOT / escalation.RUNBOOKS / f"{name}.md"
        if path.is_file():
            written = section(path.read_text())
            assert written.count(MARK) == 1 and END in written, name


def test_the_committed_runbooks_are_what_gen_writes():
    for relative, content in escalation.generate().items():
        assert (ROOT / relative).read_text() == content, f"{relative} is stale: run airscope gen"


def test_a_page_names_the_team_its_channel_policy_and_time_to_acknowledge():
    text = escalation.block("ChatAnswersFailing", catalog.load())
    assert "**critical** pages the team's on-call" in text
    team = catalog.load().owner("llm-orchestrator")
    assert (
        f"| `{team.name}` | llm-orchestrator | `{team.channel}` | {team.escalation} | {team.ack_minutes} min |"
        in text
    )
    assert text.count("\n| `") == 1  # that service's team alone


def test_a_warning_goes_to_the_channel_with_no_policy_column():
    text = escalation.block("QueueBacklog", catalog.load())
    assert "**warning** posts to the team's channel" in text and "pages" not in text
    assert "| team | about | channel |" in text and "escalation policy" not in text


def test_hosts_stores_and_the_stack_are_infras_and_its_window_is_named():
    text = escalation.block("TargetDown", catalog.load())
    assert '(`owner="infra"`, a static label)' in text
    assert "| `infra` | hosts, PostgreSQL, Redis, the observability stack | `#infra-alerts` |" in text
    assert "maintenance window `store-upgrades` (sunday 02:00-04:00 UTC) for `infra`" in text


def test_an_alert_of_a_store_and_of_its_dependents_tells_both_variants():
    text = escalation.block("DatabaseConnectionFailure", catalog.load())
    exporter, health = text.split('With `source="health_check"`: goes')
    assert exporter.startswith('With `source="exporter"`: goes') and "`infra`" in exporter
    requiring = [s.name for s in catalog.load().services.values() if "postgres" in s.requires]
    assert all(name in health for name in requiring) and "api-gateway" not in health


def test_the_block_follows_the_catalog():
    text = escalation.block("ChatAnswersFailing", moved("llm-orchestrator", "data-team"))
    assert "| `data-team` | llm-orchestrator |" in text and "ai-team" not in text


def test_a_runbook_without_markers_gets_them_under_its_heading_and_keeps_its_advice():
    text = "# X\n\n## Escalation\n\nCall the DBA.\n\n## Inhibitions\n\nNone.\n"
    written = escalation.rewrite(text, "ServiceDown", catalog.load())
    head, rest = written.split(MARK)
    assert head.endswith("## Escalation\n\n")
    assert rest.split(END)[1] == "\n\nCall the DBA.\n\n## Inhibitions\n\nNone.\n"
    assert escalation.rewrite(written, "ServiceDown", catalog.load()) == written  # stable


def test_a_runbook_without_an_escalation_section_is_an_error():
    with pytest.raises(AirscopeError, match="no '## Escalation' section"):
        escalation.rewrite("# X\n\n## Inhibitions\n", "ServiceDown", catalog.load())
