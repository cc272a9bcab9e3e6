"""Alertmanager's routing tree sends each owner's alerts to that owner's receivers.

For every team of the catalog and every severity, and for an alert without a known owner, `amtool
config routes test` resolves the labels against each generated alertmanager.yml; the receivers it
names must be those ``alertmanager.expected_receivers`` says, in that order (a critical alert pages
the team and reaches its chat; a warning its chat alone; no known owner, infra's chat). The Watchdog
reaches the dead man's switch alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airscope.catalog import Catalog, load
from airscope.stack import alertmanager
from airscope.stack.checks import tools
from airscope.stack.rules_meta import WATCHDOG

SEVERITIES = ("critical", "warning", "info")
NO_OWNER = "nobody-owns-this"  # a team the catalog does not have


def cases(catalog: Catalog) -> list[tuple[dict[str, str], list[str]]]:
    """(an alert's labels, the receivers it must reach, in the routing tree's order)."""
    found = [
        ({"alertname": "RouteTest", "owner": owner, "severity": severity}, expected)
        for owner in (*catalog.teams, NO_OWNER)
        for severity in SEVERITIES
        if (expected := alertmanager.expected_receivers(catalog, owner, severity))
    ]
    found.append(
        ({"alertname": WATCHDOG, "owner": "infra", "severity": "none"}, [alertmanager.DEADMANSSWITCH])
    )
    return found


def resolve(config: Path, labels: dict[str, str]) -> list[str] | str:
    """The receivers amtool routes ``labels`` to, or its complaint."""
    args = ["config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items())]
    accepted, said = tools.run("amtool", *args)
    if not accepted:
        return said
    return [name for name in said.strip().split(",") if name]


def check(root: Path, catalog: Catalog | None = None) -> list[str]:
    catalog = catalog or load()
    problems = []
    for config in tools.ALERTMANAGER_CONFIGS:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "alertmanager.yml"
            copy.write_text(tools.for_amtool_025((root / config).read_text()))
            for labels, expected in cases(catalog):
                got = resolve(copy, labels)
                if isinstance(got, str):
                    return [f"{config}: amtool config routes test failed:\n{got}"]
                if got != expected:
                    shown = " ".join(f"{k}={v}" for k, v in labels.items())
                    problems.append(f"{config}: {shown} reaches {got}, not {expected}")
    return problems
