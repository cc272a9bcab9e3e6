"""The runbooks the generated alerts link to: one page per alert, each with the same sections, all
listed in docs/runbooks/README.md, whose service table agrees with the catalog. What the pages quote
follows the code: each alert's `for` in both profiles (settings), every `airscope` command (parsed by
the real CLI), the dashboards and panels (the generated ones), Loki's labels, and each drill."""

from __future__ import annotations

import functools
import json
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from airscope import catalog, stack
from airscope.cli import main
from airscope.local.drills.scenarios import scenarios
from airscope.stack import settings
from airscope.stack.checks import promql
from airscope.stack.grafana.dashboards.logs import LEVELS

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


def section(text: str, heading: str) -> str:
    """The body of the second-level section ``heading``, wrapped lines joined (code spans wrap too)."""
    body = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.sub(r"\s*\n\s*", " ", body)


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", re.sub(r"\s*\n\s*", " ", text))


def runbooks() -> list[Path]:
    return sorted(RUNBOOKS / f"{name}.md" for name in alert_names())


@functools.cache
def dashboards() -> list[dict]:
    return [
        json.loads(content)
        for path, content in generated().items()
        if path.startswith("deploy/grafana/dashboards/")
    ]


def panel_titles(board: dict) -> set[str]:
    titles, pending = set(), list(board["panels"])
    while pending:
        panel = pending.pop()
        titles.add(panel.get("title"))
        pending.extend(panel.get("panels", []))  # the panels of a collapsed row
    return titles


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


# A `for` as the runbooks quote it: the compose profile's in bold, then the local profile's.
FOR_QUOTE = re.compile(r"for \*\*(\w+)\*\* \(local mode: (\w+)[;)]")


@pytest.mark.parametrize("alert", sorted({key.split(":")[0] for key in settings.ALERT_FOR}))
def test_each_runbook_quotes_its_alerts_for_in_both_profiles(alert: str):
    """Every (compose, local) pair of settings.ALERT_FOR for this alert is quoted in the Meaning
    section and in the index's row, and no other: a changed value leaves a stale quote that fails."""
    expected = sorted(value for key, value in settings.ALERT_FOR.items() if key.split(":")[0] == alert)
    meaning = section((RUNBOOKS / f"{alert}.md").read_text(), "Meaning")
    assert sorted(FOR_QUOTE.findall(meaning)) == expected, (
        f"{alert}.md: Meaning must quote each rule's `for` as 'for **COMPOSE** (local mode: LOCAL)', "
        f"with (compose, local) = {expected} from settings.ALERT_FOR"
    )
    (row,) = [
        cells for cells in table_rows(INDEX.read_text(), "| alert | severity |") if f"[{alert}]" in cells[0]
    ]
    assert sorted(FOR_QUOTE.findall(row[2])) == expected, f"README.md's row of {alert} must quote {expected}"


@pytest.mark.parametrize(
    ("alert", "sli"), [("ErrorBudgetBurn", "availability"), ("LatencyBudgetBurn", "latency")]
)
def test_the_burn_rate_tables_match_the_settings(alert: str, sli: str):
    """The burn-rate alerts' `for` is settings.BURN_RATE_ALERTS' in both profiles; their table says so."""
    rows = table_rows((RUNBOOKS / f"{alert}.md").read_text(), "| label `window` |")
    expected = [
        [
            f"`{long}`",
            f"`{settings.slo_burn_rate(sli, long)} > {factor:g} and {settings.slo_burn_rate(sli, short)} > {factor:g}`",
            for_,
            severity,
        ]
        for severity, long, short, factor, for_ in settings.BURN_RATE_ALERTS
    ]
    assert [cells[:4] for cells in rows] == expected, (
        f"{alert}.md: the table must follow settings.BURN_RATE_ALERTS"
    )


# What a placeholder in a runbook's command stands for when the command is parsed.
PLACEHOLDERS = {
    "<service>": "api-gateway",
    "<trace_id>": "4bf92f3577b34da6a3ce929d0e0e4736",
    "<saga-id>": "0b6f0e0e-0000-4000-8000-000000000001",
    "<job-id>": "5f0c6a3e9d2b4c1a8e7f6d5c4b3a2910",
    "<email>": "ada@example.com",
}
AIRSCOPE_COMMAND = re.compile(r"(?:\.venv/bin/)?airscope [a-z]")  # not a dashboard title, `airscope / ...`


def parse_command(command: str) -> None:
    """Parse ``command`` as `airscope` would, without running it: click raises a UsageError for an
    unknown command or option, a missing or extra argument, or a value its type or callback refuses."""
    for placeholder, example in PLACEHOLDERS.items():
        command = command.replace(placeholder, example)
    unknown = re.findall(r"<[^>]*>", command)
    assert not unknown, f"`{command}`: no example value for {unknown}; add one to PLACEHOLDERS"
    _, *args = shlex.split(command)
    group: click.Group = main
    ctx = click.Context(main, info_name="airscope")
    while True:
        if group.invoke_without_command and (not args or args[0].startswith("-")):
            group.make_context(ctx.info_name, args, parent=ctx.parent)  # `airscope alerts --json`
            return
        if not args:
            raise click.UsageError("no subcommand", ctx)
        name, *args = args
        # get_command, not the group's `commands`: it imports the LazyGroup's lazy subcommands.
        command_object = group.get_command(ctx, name)
        if command_object is None:
            raise click.UsageError(f"no such command {name!r}", ctx)
        if not isinstance(command_object, click.Group):
            command_object.make_context(name, args, parent=ctx)
            return
        group, ctx = command_object, click.Context(command_object, info_name=name, parent=ctx)


def runbook_commands() -> list[tuple[str, str]]:
    found = [
        (path.name, span)
        for path in sorted(RUNBOOKS.glob("*.md"))
        for span in code_spans(path.read_text())
        if AIRSCOPE_COMMAND.match(span)
    ]
    return list(dict.fromkeys(found))  # a command given twice on a page is checked once


def test_the_runbooks_give_airscope_commands():
    subcommands = {shlex.split(span)[1] for _, span in runbook_commands()}
    assert {"status", "alerts", "logs", "traces", "trace", "drill"} <= subcommands


@pytest.mark.parametrize(("page", "command"), runbook_commands(), ids=lambda value: value)
def test_every_airscope_command_in_the_runbooks_parses(page: str, command: str):
    try:
        parse_command(command)
    except click.UsageError as error:
        pytest.fail(f"{page}: `{command}` is not a valid airscope command: {error.format_message()}")


@pytest.mark.parametrize(
    "command",
    [
        ".venv/bin/airscope logs -s api-gateway --no-such-option",
        ".venv/bin/airscope no-such-command",
        ".venv/bin/airscope traces --errors extra",
        ".venv/bin/airscope traces --since soon",
        ".venv/bin/airscope trace <service>",
        ".venv/bin/airscope drill no-such-scenario",
        ".venv/bin/airscope scale <service>",
        ".venv/bin/airscope bench logs --no-such-option",
    ],
)
def test_the_command_check_refuses_what_the_cli_refuses(command: str):
    with pytest.raises(click.UsageError):
        parse_command(command)


TRACEQL_INTRINSICS = {"status", "duration", "kind", "name"}


def query_language(span: str) -> str | None:
    """'traceql' or 'logql' for a query in a code span (both start with a selector in braces), else None."""
    if not span.startswith("{") or "}" not in span:
        return None
    names = re.findall(r"([\w.]+)\s*(?:=~|!~|!=|>=|<=|=|>|<)", span[1 : span.index("}")])
    if any("." in name for name in names) or TRACEQL_INTRINSICS & set(names):
        return "traceql"
    return "logql"


DASHBOARD = re.compile(r"`(airscope / [^`]+)` \(uid `([\w-]+)`")


@pytest.mark.parametrize("path", runbooks(), ids=lambda path: path.stem)
def test_first_checks_give_status_dashboard_logs_and_traces(path: Path):
    """The requirement: status, a dashboard (title and uid), a log query and a trace search, each as
    an airscope command for the local platform and as LogQL or TraceQL for production."""
    checks = section(path.read_text(), "First checks")
    spans = code_spans(checks)
    assert ".venv/bin/airscope status" in spans, f"{path.name}: no `.venv/bin/airscope status`"
    assert ".venv/bin/airscope alerts" in spans, f"{path.name}: no `.venv/bin/airscope alerts`"
    for command in ("logs", "traces", "trace"):
        assert any(span.startswith(f".venv/bin/airscope {command} ") for span in spans), (
            f"{path.name}: First checks give no `.venv/bin/airscope {command} ...`"
        )
    assert DASHBOARD.search(checks), f"{path.name}: no dashboard named as `airscope / Title` (uid `uid`)"
    languages = {query_language(span) for span in spans}
    assert "logql" in languages, f"{path.name}: no LogQL for Loki in First checks"
    assert "traceql" in languages, f"{path.name}: no TraceQL for Tempo in First checks"


def test_the_dashboards_and_panels_named_exist():
    """Every `airscope / Title` (uid `uid`) is a generated dashboard, every /d/uid link one, and every
    *panel* a First checks section names is a panel of one."""
    boards = {board["uid"]: board["title"] for board in dashboards()}
    panels = set().union(*(panel_titles(board) for board in dashboards()))
    named = 0
    for path in RUNBOOKS.glob("*.md"):
        text = re.sub(r"\s*\n\s*", " ", path.read_text())
        for title, uid in DASHBOARD.findall(text):
            named += 1
            assert boards.get(uid) == title, f"{path.name}: no dashboard {title!r} with uid {uid!r}"
        for uid in re.findall(r"/d/([\w-]+)", text):
            assert uid in boards, f"{path.name}: link to /d/{uid}, no such dashboard"
        if path != INDEX:
            prose = re.sub(r"`[^`]*`", "", section(path.read_text(), "First checks"))  # `24 * 3600`
            for panel in re.findall(r"(?<![*\w])\*([^*]+)\*(?![*\w])", prose):
                assert panel in panels, f"{path.name}: no dashboard has a panel *{panel}*"
    assert named, "no dashboard named in the runbooks"


def test_the_logql_selects_only_alloys_labels_and_real_levels():
    """Loki's labels are the ones Alloy sets (settings.LOG_LABELS), its levels those the services write."""
    checked = 0
    for path in RUNBOOKS.glob("*.md"):
        for span in code_spans(path.read_text()):
            if query_language(span) != "logql":
                continue
            checked += 1
            selector = span[1 : span.index("}")]
            labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
            assert labels <= set(settings.LOG_LABELS), (
                f"{path.name}: `{span}` selects {labels - set(settings.LOG_LABELS)}"
            )
            for values in re.findall(r'level\s*=~?\s*"([^"]+)"', selector):
                assert set(values.split("|")) <= set(LEVELS), f"{path.name}: `{span}`: no such level"
    assert checked, "no LogQL found in the runbooks"


@pytest.mark.parametrize("scenario", sorted(scenarios().values(), key=lambda s: s.name), ids=lambda s: s.name)
def test_each_drill_is_named_in_the_runbook_of_its_alert(scenario):
    text = (RUNBOOKS / f"{scenario.expect['alertname']}.md").read_text()
    wanted = f"Reproduce it: `.venv/bin/airscope drill {scenario.name}"
    assert any(
        re.search(re.escape(wanted) + r"[ `]", section(text, name))
        for name in ("First checks", "Remediation")
    ), f"{scenario.expect['alertname']}.md: First checks or Remediation must say '{wanted}`'"
