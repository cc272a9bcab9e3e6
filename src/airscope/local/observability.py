"""The local observability stack: the exporters, Prometheus, Alertmanager and its webhook receiver,
with their configs rendered by the same generators as ``deploy/`` (the local profile), and the
``file_sd`` target files that tell Prometheus what runs where.

Every port can move (``AIRSCOPE_PORT_<NAME>``), which is why Prometheus finds every target, itself
included, through ``file_sd`` files written here: a moved port or a new instance needs no restart.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from airscope.catalog import Catalog
from airscope.local import LocalError, ports
from airscope.local.supervisor import Program
from airscope.stack import _yaml, alertmanager, blackbox, prometheus, rules, settings
from airscope.stack.settings import LOCAL

# Local defaults: the ports the same components use in compose, plus the receiver's own.
DEFAULT_PORTS = {
    "node-exporter": settings.PORTS["node-exporter"],
    "redis-exporter": settings.PORTS["redis-exporter"],
    "postgres-exporter": settings.PORTS["postgres-exporter"],
    "blackbox-exporter": settings.PORTS["blackbox-exporter"],
    "alert-receiver": 9097,
    "console": settings.PORTS["grafana"],  # Grafana's port: its links and habits carry over
    "alertmanager": settings.PORTS["alertmanager"],
    "prometheus": settings.PORTS["prometheus"],
}
BINARIES = {  # program -> (Debian binary, its package)
    "node-exporter": ("prometheus-node-exporter", "prometheus-node-exporter"),
    "redis-exporter": ("prometheus-redis-exporter", "prometheus-redis-exporter"),
    "postgres-exporter": ("prometheus-postgres-exporter", "prometheus-postgres-exporter"),
    "blackbox-exporter": ("prometheus-blackbox-exporter", "prometheus-blackbox-exporter"),
    "alertmanager": ("prometheus-alertmanager", "prometheus-alertmanager"),
    "prometheus": ("prometheus", "prometheus"),
}
JOBS = {  # file_sd job -> the program it scrapes
    "node": "node-exporter",
    "redis": "redis-exporter",
    "postgres": "postgres-exporter",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
}
READY_PATHS = {
    "node-exporter": "/metrics",
    "redis-exporter": "/metrics",
    "postgres-exporter": "/metrics",
    "blackbox-exporter": "/metrics",
    "alert-receiver": "/health/live",
    "console": "/health/live",
    "alertmanager": "/-/ready",
    "prometheus": "/-/ready",
}
# Local history: the SLO period and a day (`airscope slo` reads 30 days), bounded on disk.
PROMETHEUS_RETENTION = ("31d", "2GB")


@dataclass(frozen=True)
class Component:
    program: Program
    port: int

    @property
    def ready_path(self) -> str:
        return READY_PATHS[self.program.name]


def local_ports() -> dict[str, int]:
    return {name: ports.port_for(name, default) for name, default in DEFAULT_PORTS.items()}


def _binary(name: str) -> str:
    binary, package = BINARIES[name]
    found = shutil.which(binary)
    if found is None:
        raise LocalError(
            f"{binary} is not installed: install the Debian package {package} (`make up` runs "
            "scripts/bootstrap.sh, which installs every package of scripts/debian-packages.txt)"
        )
    return found


def prometheus_dir(home: Path) -> Path:
    return home / "prometheus"


def targets_dir(home: Path) -> Path:
    return prometheus_dir(home) / prometheus.LOCAL_TARGETS_DIR


def write_configs(catalog: Catalog, home: Path, at: dict[str, int]) -> None:
    """The local profile's configs, rendered by the stack generators into ``home``."""
    config_dir = prometheus_dir(home)
    rules_dir = config_dir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    targets_dir(home).mkdir(parents=True, exist_ok=True)
    header = _yaml.header("prometheus.py")
    _replace(config_dir / "prometheus.yml", _yaml.dump(prometheus.local(catalog), header))
    header = _yaml.header("rules.py")
    _replace(rules_dir / Path(rules.RECORDING_PATH).name, _yaml.dump(rules.recording(catalog), header))
    _replace(rules_dir / Path(rules.ALERTS_PATH).name, _yaml.dump(rules.alerts(catalog, LOCAL), header))
    receiver = f"http://127.0.0.1:{at['alert-receiver']}/alerts"
    _replace(home / "alertmanager" / "alertmanager.yml", alertmanager.render(catalog, LOCAL, receiver))
    _replace(home / "blackbox" / "blackbox.yml", blackbox.render())


def _exporters(home: Path, listen: dict[str, str], postgres_port: int, redis_port: int) -> list[Program]:
    node = (
        f"--web.listen-address={listen['node-exporter']}",
        # The collectors the rules and dashboards read; the rest cost scrape time.
        "--collector.disable-defaults",
        *("--collector.cpu", "--collector.meminfo", "--collector.filesystem"),
        "--collector.loadavg",
    )
    redis = (
        "-redis.addr",
        f"redis://127.0.0.1:{redis_port}",
        "-web.listen-address",
        listen["redis-exporter"],
    )
    # The local cluster trusts its superuser from 127.0.0.1: no password to keep.
    postgres = f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres?sslmode=disable"
    blackbox_config = f"--config.file={home / 'blackbox' / 'blackbox.yml'}"
    return [
        Program("node-exporter", (_binary("node-exporter"), *node)),
        Program("redis-exporter", (_binary("redis-exporter"), *redis)),
        Program(
            "postgres-exporter",
            (_binary("postgres-exporter"), f"--web.listen-address={listen['postgres-exporter']}"),
            env={**os.environ, "DATA_SOURCE_NAME": postgres},
        ),
        Program(
            "blackbox-exporter",
            (
                _binary("blackbox-exporter"),
                blackbox_config,
                f"--web.listen-address={listen['blackbox-exporter']}",
            ),
        ),
    ]


def _alerting(home: Path, listen: dict[str, str], at: dict[str, int]) -> list[Program]:
    receiver = (
        *("-m", "uvicorn", "--factory", "airscope.local.alert_receiver:create_app"),
        *("--host", "127.0.0.1", "--port", str(at["alert-receiver"]), "--log-level", "warning"),
    )
    return [
        Program(
            "alert-receiver", (sys.executable, *receiver), env={**os.environ, "AIRSCOPE_HOME": str(home)}
        ),
        Program(
            "alertmanager",
            (
                _binary("alertmanager"),
                f"--config.file={home / 'alertmanager' / 'alertmanager.yml'}",
                f"--storage.path={home / 'data' / 'alertmanager'}",
                f"--web.listen-address={listen['alertmanager']}",
                "--cluster.listen-address=",  # one instance: no gossip port to open
            ),
        ),
    ]


def _prometheus(home: Path, listen: dict[str, str]) -> Program:
    time, size = PROMETHEUS_RETENTION
    return Program(
        "prometheus",
        (
            _binary("prometheus"),
            f"--config.file={prometheus_dir(home) / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data' / 'prometheus'}",
            f"--storage.tsdb.retention.time={time}",
            f"--storage.tsdb.retention.size={size}",
            f"--web.listen-address={listen['prometheus']}",
            # The first alert is otherwise held back up to a minute after start-up.
            "--rules.alert.resend-delay=1s",
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
        ),
        cwd=prometheus_dir(home),
        stop_wait=30,
    )


def _console(home: Path, at: dict[str, int]) -> Program:
    # Named by module path, not imported: the console is a layer above local mode (it reads local's
    # logs, traces and ports), and runs as its own process like every other program.
    console = (
        *("-m", "uvicorn", "--factory", "airscope.console.app:create_app"),
        *("--host", "127.0.0.1", "--port", str(at["console"]), "--log-level", "warning"),
    )
    # Two malloc arenas, not one per thread (8 per core): the console answers a dashboard's panels from
    # a thread pool, and each thread's arena kept what its queries freed (112 -> 91 MiB after four
    # dashboards, measured).
    env = {**os.environ, "AIRSCOPE_HOME": str(home), "MALLOC_ARENA_MAX": "2"}
    return Program("console", (sys.executable, *console), env=env)


def components(home: Path, at: dict[str, int], postgres_port: int, redis_port: int) -> list[Component]:
    """In start order: the exporters and the receiver first, Prometheus, then the console that reads it."""
    listen = {name: f"127.0.0.1:{port}" for name, port in at.items()}
    programs = [
        *_exporters(home, listen, postgres_port, redis_port),
        *_alerting(home, listen, at),
        _prometheus(home, listen),
        _console(home, at),
    ]
    return [Component(program, at[program.name]) for program in programs]


def write_targets(home: Path, instances: dict[str, dict[str, int]], at: dict[str, int]) -> None:
    """The file_sd files: every service instance (with its `service` label), its /health/live
    probe through the blackbox exporter, and each exporter and stack component."""
    directory = targets_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    services = []
    probes = []
    for service, members in sorted(instances.items()):
        for program, port in sorted(members.items()):
            # instance: the program name (api-gateway, api-gateway@2) reads better than an address.
            labels = {"service": service, "instance": program}
            services.append({"targets": [f"127.0.0.1:{port}"], "labels": labels})
            probes.append(
                {
                    "targets": [f"http://127.0.0.1:{port}/health/live"],
                    "labels": {**labels, "exporter": f"127.0.0.1:{at['blackbox-exporter']}"},
                }
            )
    _replace_json(directory / f"{settings.SERVICES_JOB}.json", services)
    _replace_json(directory / f"{settings.BLACKBOX_JOB}.json", probes)
    for job, program in JOBS.items():
        _replace_json(directory / f"{job}.json", [{"targets": [f"127.0.0.1:{at[program]}"]}])


def _replace(path: Path, content: str) -> None:
    """Write-then-rename: a reader (Prometheus' file_sd, a reload) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == content:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    tmp.replace(path)


def _replace_json(path: Path, data: object) -> None:
    _replace(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
