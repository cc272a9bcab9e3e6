"""The containers dashboard: generated and registered, selecting what cAdvisor exports with the labels
the compose file makes it keep, and its restart and OOM counts right on series as cAdvisor writes them
(run by promtool)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import compose, grafana, prometheus, settings
from airscope.stack.checks import promql
from airscope.stack.grafana.dashboards import containers

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not on PATH")


def dashboard() -> dict:
    return json.loads(grafana.generate(catalog.load())[grafana.dashboard_path(containers.UID)])


def expressions() -> list[str]:
    return [
        target["expr"]
        for panel in grafana.walk_panels(dashboard())
        for target in panel.get("targets", ())
        if "expr" in target
    ]


def test_it_is_generated_with_cpu_memory_restart_and_oom_panels():
    board = dashboard()
    assert board["title"] == "airscope / Containers"
    titles = [panel["title"] for panel in grafana.walk_panels(board) if panel["type"] != "row"]
    assert titles == [
        "CPU by container",
        "Memory against the limit",
        "Memory by container",
        "Restarts (1 h)",
        "Restarts in the last hour by container",
        "OOM kills (1 h)",
        "OOM kills in the last hour by container",
    ]
    (share,) = [p for p in grafana.walk_panels(board) if p["title"] == "Memory against the limit"]
    steps = share["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"color": "red", "value": settings.MEMORY_USAGE_THRESHOLD}


def test_every_query_selects_this_projects_containers_on_the_cadvisor_job():
    scraped = yaml.safe_load(prometheus.generate(catalog.load())[prometheus.COMPOSE_PATH])["scrape_configs"]
    assert containers.JOB in {job["job_name"] for job in scraped}
    assert settings.EXPORTER_JOBS[containers.JOB] == "cadvisor"
    # The label cAdvisor writes for the compose project is one the compose file makes it keep.
    command = yaml.safe_load(compose.generate(catalog.load())[compose.PATH])["services"]["cadvisor"][
        "command"
    ]
    kept = next(arg for arg in command if arg.startswith("--whitelisted_container_labels="))
    assert "com.docker.compose.project" in kept.partition("=")[2].split(",")
    assert containers.PROJECT_LABEL == "container_label_com_docker_compose_project"
    selector = f'{{job="cadvisor", container_label_com_docker_compose_project="{compose.PROJECT}"}}'
    for expr in expressions():
        assert selector in expr, expr


def test_it_reads_only_metrics_cadvisor_documents():
    used = set().union(*(promql.metric_names(expr) for expr in expressions()))
    assert used == {
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "container_start_time_seconds",
        "container_oom_events_total",
    }
    assert used <= promql.EXTERNAL_METRICS["cadvisor"]


def test_it_is_one_of_the_dashboards_grafana_loads():
    uids = {board.build().uid for board in grafana.dashboards.build_all(catalog.load())}
    assert containers.UID in uids
    assert grafana.dashboard_path(containers.UID) in stack.generate()


# Series as cAdvisor writes them, one a minute: api-gateway restarted once (a new start time) and had
# one OOM kill; grafana has a limit and uses 90% of it; the root cgroup and another project's
# container restarting are not this stack's.
OURS = 'job="cadvisor", container_label_com_docker_compose_project="airscope"'
GATEWAY = f'{{{OURS}, name="airscope-api-gateway-1", id="/system.slice/docker-a.scope"}}'
GRAFANA = f'{{{OURS}, name="airscope-grafana-1", id="/system.slice/docker-b.scope"}}'
UNLIMITED = f'{{{OURS}, name="airscope-mimir-1", id="/system.slice/docker-c.scope"}}'
OTHER = '{job="cadvisor", container_label_com_docker_compose_project="other", name="other-db-1"}'
ROOT = '{job="cadvisor", id="/"}'


def promtool_case() -> dict:
    return {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"container_start_time_seconds{GATEWAY}", "values": "1000x30 2800x30"},
                    {"series": f"container_start_time_seconds{GRAFANA}", "values": "1000x60"},
                    {"series": f"container_start_time_seconds{OTHER}", "values": "1000x30 2800x30"},
                    {"series": f"container_start_time_seconds{ROOT}", "values": "5x30 9x30"},
                    {"series": f"container_oom_events_total{GATEWAY}", "values": "0x30 1x30"},
                    {"series": f"container_oom_events_total{GRAFANA}", "values": "0x60"},
                    {"series": f"container_memory_working_set_bytes{GRAFANA}", "values": "900x60"},
                    {"series": f"container_spec_memory_limit_bytes{GRAFANA}", "values": "1000x60"},
                    {"series": f"container_memory_working_set_bytes{UNLIMITED}", "values": "500x60"},
                    {"series": f"container_spec_memory_limit_bytes{UNLIMITED}", "values": "0x60"},
                ],
                "promql_expr_test": [
                    {
                        "expr": f"{containers.RESTARTS} > 0",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": '{name="airscope-api-gateway-1"}', "value": 1}],
                    },
                    {
                        "expr": f"{containers.OOM_KILLS} > 0",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": '{name="airscope-api-gateway-1"}', "value": 1}],
                    },
                    {
                        "expr": f"{containers.MEMORY} / {containers.LIMIT}",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": '{name="airscope-grafana-1"}', "value": 0.9}],
                    },
                ],
            }
        ],
    }


@needs_promtool
def test_restarts_oom_kills_and_memory_share_count_right_on_cadvisor_series(tmp_path: Path):
    case = tmp_path / "containers.test.yml"
    case.write_text(yaml.safe_dump(promtool_case(), sort_keys=False))
    done = subprocess.run(
        ["promtool", "test", "rules", case.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
