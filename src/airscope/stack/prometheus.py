"""prometheus.yml for each profile: the compose profile discovers containers, the local one reads file_sd.

One shape that Prometheus 3.x (compose) and Debian's 2.42 (local, and `promtool` here) both accept:
no 3.x-only keys; retention is set by flags in compose, not in this file.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings
from airscope.stack.settings import COMPOSE, LOCAL, Profile

COMPOSE_PATH = "deploy/prometheus/prometheus.yml"
LOCAL_PATH = "deploy/local/prometheus.yml"
# Local mode copies deploy/local/prometheus.yml beside the rules and its file_sd files under var/.
LOCAL_TARGETS_DIR = "targets"
RULES_GLOB = "rules/*.yml"


def _label(name: str) -> str:
    """The meta label docker_sd gives a container label (names sanitised to [a-zA-Z0-9_])."""
    return "__meta_docker_container_label_" + "".join(c if c.isalnum() else "_" for c in name)


def _global(profile: Profile) -> dict:
    return {
        "scrape_interval": profile.scrape_interval,
        "evaluation_interval": profile.evaluation_interval,
        "scrape_timeout": "10s" if profile is COMPOSE else "4s",
        "external_labels": {"cluster": settings.CLUSTER, "environment": profile.environment},
    }


def _services_job_compose() -> dict:
    return {
        "job_name": settings.SERVICES_JOB,
        "docker_sd_configs": [
            {
                "host": "unix:///var/run/docker.sock",
                "refresh_interval": "15s",
                "filters": [{"name": "label", "values": [f"{settings.SCRAPE_LABEL}=true"]}],
            }
        ],
        "relabel_configs": [
            # One target per container: its address on our network, at the port its label names.
            {"source_labels": ["__meta_docker_network_name"], "regex": settings.NETWORK, "action": "keep"},
            {
                "source_labels": ["__meta_docker_network_ip", _label(settings.METRICS_PORT_LABEL)],
                "separator": ":",
                "target_label": "__address__",
            },
            {"source_labels": [_label(settings.SERVICE_LABEL)], "target_label": "service"},
            {
                "source_labels": ["__meta_docker_container_name"],
                "regex": "/?(.*)",
                "target_label": "instance",
            },
        ],
    }


def _static_job(job: str, target: str, extra: dict | None = None) -> dict:
    return {"job_name": job, "static_configs": [{"targets": [target]}], **(extra or {})}


def _probe_relabelling(exporter: dict) -> list[dict]:
    """The target becomes the probed URL; the scrape goes to the blackbox exporter (``exporter``)."""
    return [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", **exporter},
    ]


def _blackbox_job(discovery: dict, exporter: dict) -> dict:
    """Probes each service's /health/live from outside: a wedged process that still exists is caught."""
    return {
        "job_name": settings.BLACKBOX_JOB,
        "metrics_path": "/probe",
        "params": {"module": [settings.BLACKBOX_MODULE]},
        **discovery,
        "relabel_configs": _probe_relabelling(exporter),
    }


def compose(catalog: Catalog) -> dict:
    ports = settings.PORTS
    jobs = [_services_job_compose()]
    for job, container in settings.EXPORTER_JOBS.items():
        jobs.append(_static_job(job, f"{container}:{ports[container]}"))
    probes = [
        {"targets": [f"http://{s.name}:{s.port}/health/live"], "labels": {"service": s.name}}
        for s in catalog.services.values()
    ]
    exporter = f"blackbox-exporter:{ports['blackbox-exporter']}"
    jobs.append(_blackbox_job({"static_configs": probes}, {"replacement": exporter}))
    for job in settings.STACK_JOBS:
        jobs.append(_static_job(job, f"{job}:{ports[job]}"))
    return {
        "global": _global(COMPOSE),
        "rule_files": [RULES_GLOB],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"alertmanager:{ports['alertmanager']}"]}]}]
        },
        "scrape_configs": jobs,
        "remote_write": [
            {
                "url": f"http://mimir:{ports['mimir']}/api/v1/push",
                "send_exemplars": True,
                # Mimir down for hours must not grow Prometheus' memory without bound.
                "queue_config": {"max_shards": 10, "capacity": 10000},
            }
        ],
    }


def _file_sd(job: str) -> dict:
    return {"job_name": job, "file_sd_configs": [{"files": [f"{LOCAL_TARGETS_DIR}/{job}.json"]}]}


def local(catalog: Catalog) -> dict:
    """Every target comes from a file_sd file the local runner writes, since every port can move."""
    # The exporter's own address is the label `exporter` of the file_sd group: its port can move too.
    blackbox = _blackbox_job(
        {"file_sd_configs": [{"files": [f"{LOCAL_TARGETS_DIR}/{settings.BLACKBOX_JOB}.json"]}]},
        {"source_labels": ["exporter"]},
    )
    blackbox["relabel_configs"].append({"regex": "exporter", "action": "labeldrop"})
    local_jobs = [job for job in settings.EXPORTER_JOBS if job != "cadvisor"]  # no containers locally
    jobs = [_file_sd(settings.SERVICES_JOB), blackbox]
    jobs += [_file_sd(job) for job in (*local_jobs, "prometheus", "alertmanager")]
    return {
        "global": _global(LOCAL),
        "rule_files": [RULES_GLOB],
        "alerting": {
            "alertmanagers": [{"file_sd_configs": [{"files": [f"{LOCAL_TARGETS_DIR}/alertmanager.json"]}]}]
        },
        "scrape_configs": jobs,
    }


def generate(catalog: Catalog) -> dict[str, str]:
    head = _yaml.header("prometheus.py")
    return {
        COMPOSE_PATH: _yaml.dump(compose(catalog), head),
        LOCAL_PATH: _yaml.dump(local(catalog), head),
    }
