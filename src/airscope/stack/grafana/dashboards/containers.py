"""Every container of the compose stack as cAdvisor sees it: CPU, memory against its limit, restarts
and OOM kills, per container.

cAdvisor keeps only compose's project and service labels (``settings.CADVISOR_LABELS``), so the
panels select this project's containers and name each by its container name (``name``).
cAdvisor has no restart counter: a restart starts a new cgroup for the same container, so its
``container_start_time_seconds`` changes, and ``changes()`` counts the restarts. Local mode runs
no containers (and no cAdvisor): there this dashboard is empty.
"""

from __future__ import annotations

from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels
from airscope.stack.grafana.dashboards.panels import prom, stat_panel
from airscope.stack.grafana.dashboards.panels import timeseries_panel as graph

UID = "airscope-containers"
TITLE = "airscope / Containers"
JOB = "cadvisor"  # settings.EXPORTER_JOBS' job name for cAdvisor


def label(container_label: str) -> str:
    """cAdvisor's Prometheus name for a container label it keeps: container_label_ + it, . as _."""
    return "container_label_" + "".join(c if c.isalnum() else "_" for c in container_label)


PROJECT_LABEL = label(settings.CADVISOR_LABELS[0])
HOUR = "1h"  # restarts and OOM kills: counted over the last hour, like the domain dashboards' rare events


def series(metric: str) -> str:
    """``metric`` of this compose project's containers (not cAdvisor's root cgroup, not other projects)."""
    return f'{metric}{{job="{JOB}", {PROJECT_LABEL}="{settings.COMPOSE_PROJECT}"}}'


def by_container(expr: str) -> str:
    return f"sum by (name) ({expr})"


CPU = by_container(f"rate({series('container_cpu_usage_seconds_total')}[{panels.RATE}])")
MEMORY = by_container(series("container_memory_working_set_bytes"))
# Containers without a limit report 0: left out of the share rather than divided by zero.
LIMIT = by_container(f"{series('container_spec_memory_limit_bytes')} > 0")
RESTARTS = by_container(f"changes({series('container_start_time_seconds')}[{HOUR}])")
OOM_KILLS = by_container(f"increase({series('container_oom_events_total')}[{HOUR}])")


def _total(title: str, expr: str, description: str) -> object:
    """How many of a rare, serious event the last hour saw across containers: red from the first."""
    return stat_panel(
        title,
        [prom(f"sum({expr})", instant=True)],
        unit="none",
        description=description,
        steps=panels.thresholds((1, "red")),
        width=6,
        height=8,
    )


def _per_container(title: str, expr: str, description: str) -> object:
    return graph(title, [prom(f"{expr} > 0", "{{name}}")], unit="none", description=description, width=18)


def build():
    board = panels.board(
        UID,
        TITLE,
        "Every container of the stack as cAdvisor sees it: CPU, memory against its limit, restarts and "
        "OOM kills (production only: local mode runs no containers).",
        tags=["containers"],
    )
    restarts = (
        "Restarts of a container in the last hour (restart: unless-stopped brings a crashed one back): "
        "cAdvisor has no restart counter, so this counts changes of container_start_time_seconds."
    )
    oom = "Processes the kernel's OOM killer ended in a container in the last hour (container_oom_events_total)."
    rows = [
        (
            "CPU and memory",
            [
                graph(
                    "CPU by container",
                    [prom(CPU, "{{name}}")],
                    unit="short",
                    description="CPU seconds used per second: 1 is one core busy.",
                ),
                graph(
                    "Memory against the limit",
                    [prom(f"{MEMORY}\n/\n{LIMIT}", "{{name}}")],
                    unit="percentunit",
                    description="Working set (what the kernel counts towards the OOM killer) over the "
                    "container's mem_limit; at 100% the kernel kills. Containers without a limit are "
                    "not drawn.",
                    steps=panels.thresholds((settings.MEMORY_USAGE_THRESHOLD, "red")),
                ),
                graph(
                    "Memory by container",
                    [prom(MEMORY, "{{name}}")],
                    unit="bytes",
                    description="Working set of each container, with or without a limit.",
                    width=panels.WIDTH,
                ),
            ],
        ),
        (
            "Restarts and OOM kills",
            [
                _total("Restarts (1 h)", RESTARTS, restarts),
                _per_container("Restarts in the last hour by container", RESTARTS, restarts),
                _total("OOM kills (1 h)", OOM_KILLS, oom),
                _per_container("OOM kills in the last hour by container", OOM_KILLS, oom),
            ],
        ),
    ]
    return panels.with_rows(board, rows)
