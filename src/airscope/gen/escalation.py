"""Each runbook's ``## Escalation``: who gets the alert, page or chat per severity, written from the
catalog's teams and the alerting rules.

Every alert carries ``owner``: a service's alert the owning team of the service (joined from
``service:catalog:info``), a host's, a store's or the stack's the infra team (a static label).
Alertmanager routes on it (stack/alertmanager.py): critical pages ``<team>-pager`` and copies
``<team>-chat``, warning goes to ``<team>-chat`` alone. The block between the markers under each
runbook's ``## Escalation`` heading says so for the alert's own services and teams; what follows the
block is the runbook's own advice (whom the owners bring in), written by hand. A runbook without the
markers gets them right under its heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from airscope import catalog as service_catalog
from airscope import checkout, tables
from airscope.catalog import INFRA_TEAM, Catalog, MaintenanceWindow, Team
from airscope.errors import AirscopeError
from airscope.gen.doc_tables import END, START, Rule, alerting_rules
from airscope.stack import alertmanager, metrics_inventory

RUNBOOKS = "docs/runbooks"
MARKER = "escalation"
HEADING = "## Escalation"
# What the infra team answers for, in the words of the catalog's comment.
INFRA_SCOPE = "hosts, PostgreSQL, Redis, the observability stack"
_BLOCK = re.compile(
    rf"^{re.escape(START.format(name=MARKER))}\n.*?^{re.escape(END)}\n", re.DOTALL | re.MULTILINE
)
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_CHECK = re.compile(r'check="(?P<store>[\w-]+)"')


def _services_of(rule: Rule, catalog: Catalog) -> list[str]:
    """The services an alert of a service can be about: those whose own metrics its expression reads,
    those requiring the store whose health check it reads, else every service."""
    expr = rule.compose["expr"]
    if (check := _CHECK.search(expr)) and check["store"] in catalog.infrastructure:
        return [s.name for s in catalog.services.values() if check["store"] in s.requires]
    names = set(_NAME.findall(expr))
    found = [
        service.name
        for service in catalog.services.values()
        if any(
            name == metric._name or name.startswith(metric._name + "_")
            for metric in metrics_inventory.service_metric_objects(service.module)
            for name in names
        )
    ]
    return found or list(catalog.services)


def _owners(rules: list[Rule], catalog: Catalog) -> dict[str, list[str]]:
    """Team -> what of it the alerts are about (services, or the infra scope), in catalog order."""
    found: dict[str, list[str]] = {}
    for rule in rules:
        if "owner" in rule.labels:
            found.setdefault(
                rule.labels["owner"], [INFRA_SCOPE] if rule.labels["owner"] == INFRA_TEAM else []
            )
            continue
        for name in _services_of(rule, catalog):
            found.setdefault(catalog.services[name].owner, []).append(name)
    order = list(catalog.teams)
    return {
        team: list(dict.fromkeys(found[team]))
        for team in sorted(found, key=lambda t: order.index(t) if t in order else len(order))
    }


def _severities(rules: Iterable[Rule]) -> list[str]:
    found = {rule.labels["severity"] for rule in rules}
    return [s for s in ("critical", "warning") if s in found] + sorted(found - {"critical", "warning"})


def _what(severity: str) -> str:
    if severity == alertmanager.PAGES:
        return (
            f"**{severity}** pages the team's on-call (PagerDuty, receiver `<team>-pager`, through the "
            "team's escalation policy: unacknowledged after its time, the page goes to the next level) "
            "and posts a copy to the team's channel (`<team>-chat`)"
        )
    return f"**{severity}** posts to the team's channel (`<team>-chat`), no page"


def _window(window: MaintenanceWindow) -> str:
    days = ", ".join(window.weekdays)
    return f"`{window.name}` ({days} {window.times} {window.location})"


def _table(owners: dict[str, list[str]], catalog: Catalog, pages: bool) -> str:
    teams: list[Team] = [catalog.teams[name] for name in owners if name in catalog.teams]
    header = ["team", "about", "channel"]
    if any(team.email for team in teams):
        header.append("email")
    if pages:
        header += ["escalation policy", "acknowledge within"]
    rows = []
    for team in teams:
        row = [f"`{team.name}`", ", ".join(owners[team.name]), f"`{team.channel}`"]
        if "email" in header:
            row.append(team.email or "")
        if pages:
            row += [team.escalation, f"{team.ack_minutes} min"]
        rows.append(tuple(row))
    return tables.markdown(tuple(header), rows)


def _part(rules: list[Rule], catalog: Catalog, variant: str) -> list[str]:
    owners = _owners(rules, catalog)
    severities = _severities(rules)
    whose = (
        f'the {INFRA_TEAM} team (`owner="{INFRA_TEAM}"`, a static label)'
        if list(owners) == [INFRA_TEAM] and all("owner" in r.labels for r in rules)
        else "the team that owns the service in the catalog (its `owner` label)"
    )
    lead = f"{variant}: goes" if variant else "Goes"
    lines = [f"{lead} to {whose}. " + "; ".join(_what(s) for s in severities) + ".", ""]
    lines.append(_table(owners, catalog, alertmanager.PAGES in severities))
    windows = [
        f"{_window(w)} for `{team}`"
        for w in catalog.maintenance.values()
        for team in owners
        if team in w.teams
    ]
    if windows:
        lines += ["", "Not notified during the maintenance window " + ", ".join(windows) + " (production)."]
    return lines


def block(alert: str, catalog: Catalog) -> str:
    """The generated escalation text of one alert (its rules in both profiles)."""
    rules = [rule for rule in alerting_rules(catalog) if rule.name == alert]
    if not rules:
        raise AirscopeError(f"{RUNBOOKS}/{alert}.md: no alerting rule is named {alert}")
    if alert == "Watchdog":
        infra = catalog.teams[INFRA_TEAM]
        return (
            f"No person's: it goes to the dead man's switch alone (receiver `{alertmanager.DEADMANSSWITCH}`). "
            f"The switch's own alarm, when the heartbeats stop, is for `{INFRA_TEAM}` (the stack's owner): "
            f"point it at that team's PagerDuty service ({infra.escalation}, acknowledge within "
            f"{infra.ack_minutes} min) and its channel `{infra.channel}`."
        )
    by_kind: dict[bool, list[Rule]] = {}
    for rule in rules:
        by_kind.setdefault("owner" in rule.labels, []).append(rule)
    lines: list[str] = []
    for kind in by_kind.values():
        variant = ""
        if len(by_kind) > 1:
            # Labels as `name="value"`, not a `{...}` selector: the runbooks' selectors are LogQL.
            shown = (r.variant().strip("`{}") for r in kind if r.variant())
            variant = "With " + " or ".join(f"`{v}`" for v in dict.fromkeys(shown)) if kind else ""
        if lines:
            lines.append("")
        lines += _part(kind, catalog, variant)
    lines += ["", "Routes and receivers: [on-call.md](../on-call.md)."]
    return "\n".join(lines)


def rewrite(text: str, alert: str, catalog: Catalog) -> str:
    """The runbook with its escalation block written anew (inserted under the heading if missing)."""
    written = f"{START.format(name=MARKER)}\n{block(alert, catalog)}\n{END}\n"
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _: written, text, count=1)
    heading = text.find(f"\n{HEADING}\n")
    if heading < 0:
        raise AirscopeError(f"{RUNBOOKS}/{alert}.md has no '{HEADING}' section to write who gets it into")
    at = heading + len(HEADING) + 2
    rest = text[at:].lstrip("\n")
    return f"{text[:at]}\n{written}\n{rest}"


def generate() -> dict[str, str]:
    root, catalog = checkout.root(), service_catalog.load()
    folder = root / RUNBOOKS
    if not folder.is_dir():  # a test's empty root
        return {}
    names = dict.fromkeys(rule.name for rule in alerting_rules(catalog))
    return {
        f"{RUNBOOKS}/{name}.md": rewrite((folder / f"{name}.md").read_text(), name, catalog)
        for name in names
        if (folder / f"{name}.md").is_file()
    }
