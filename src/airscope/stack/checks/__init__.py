"""``airscope check``: every static check of the generated stack, for what cannot run here too.

Each module exposes ``check(root) -> list[str]`` (problems, each naming the file and what is wrong)
over the files under ``root/deploy``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

# (module, what it checks): the order `airscope check` reports them in.
CHECKS = (
    ("tools", "Prometheus and Alertmanager configs and rules (promtool, amtool)"),
    ("routes", "Alertmanager routes each team's alerts to its receivers (amtool config routes test)"),
    ("promql", "PromQL of rules and dashboards parses and names exported metrics"),
    ("dashboards", "Grafana dashboards round-trip through the SDK; datasources link to each other"),
    ("logql_levels", "Loki queries at All keep the lines without a level, and Loki accepts them"),
    ("backends", "Loki, Alloy, Tempo, Jaeger, Mimir and Pyroscope configs use documented keys and wire up"),
    ("compose", "the compose file: compose-spec schema, docker-compose config, images, ports, mounts"),
    ("slo_specs", "the SLO exports (OpenSLO, Sloth, Pyrra) against each tool's pinned schema"),
)


def run(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Yields (description, problems) per check, as each finishes."""
    for module, description in CHECKS:
        yield description, importlib.import_module(f"airscope.stack.checks.{module}").check(root)
