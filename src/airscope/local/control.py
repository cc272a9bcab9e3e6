"""``airscope stop|start NAME`` and ``airscope scale SERVICE N`` on the running local platform.

A stopped program stays stopped (supervisord restarts only what exits on its own) and stays a
Prometheus target, so its alert fires; ``scale`` adds or removes instances while the rest run and
rewrites the file_sd files, which Prometheus reads again within seconds.
"""

from __future__ import annotations

import socket
import time

from airscope.local import LocalError, observability, runner
from airscope.local.supervisor import Supervisor
from airscope.promapi import PromAPIError, Prometheus

MAX_INSTANCES = 10
DISCOVERY_TIMEOUT = 60.0  # Prometheus re-reads file_sd files within seconds; this is far beyond


def instance_program(service: str, instance: int) -> str:
    """supervisord's name for instance ``instance`` (1: the first) of ``service``: the service's own
    name, then ``<service>@<n>``."""
    return service if instance == 1 else f"{service}@{instance}"


def programs_of(sup: Supervisor, name: str) -> list[str]:
    """The programs ``name`` means: a service's every instance, or one program by its exact name."""
    known = sup.names()
    matched = [p for p in known if p == name or p.startswith(f"{name}@")]
    if not matched:
        raise LocalError(f"no program {name!r} in the local platform (known: {', '.join(sorted(known))})")
    return sorted(matched)


def _programs(name: str) -> tuple[Supervisor, list[str]]:
    """The running platform's supervisord, and the programs ``name`` means there."""
    sup = runner.running_supervisor(runner.platform())
    return sup, programs_of(sup, name)


def stop(name: str) -> list[str]:
    sup, names = _programs(name)
    for program in names:
        sup.stop(program)
    return names


def start(name: str) -> list[str]:
    """Starts the programs of ``name`` again and waits until each is ready (up's own gate)."""
    sup, names = _programs(name)
    for program in names:
        sup.start(program)
        if port := sup.defined_port(program):
            runner.wait_ready(sup, program, port)
    return names


def scale(service_name: str, count: int) -> dict[str, int]:
    """Runs ``count`` instances of the service; returns them (program -> port)."""
    if not 1 <= count <= MAX_INSTANCES:
        raise LocalError(f"scale to 1..{MAX_INSTANCES} instances, not {count}")
    plat = runner.platform()
    service = plat.catalog.service(service_name)
    if not service.exists():
        raise LocalError(f"{service_name} is not in the tree yet: nothing to scale")
    sup = runner.running_supervisor(plat)
    instances = runner.load_instances(plat)
    members = instances[service.name]
    wanted = [instance_program(service.name, k) for k in range(1, count + 1)]
    for program in wanted:
        if program not in members:
            members[program] = _free_port()
            runner.start_instance(sup, plat, service, program, members[program])
    for program in [p for p in members if p not in wanted]:
        sup.remove(program)
        del members[program]
    runner.save_instances(plat.home, instances)
    observability.write_targets(plat.home, instances, plat.observability_ports)
    return dict(members)


def wait_discovered(service: str, programs: set[str]) -> float:
    """Seconds until Prometheus scrapes exactly ``programs`` of ``service`` (each up), or LocalError."""
    port = runner.platform().observability_ports["prometheus"]
    began = time.monotonic()
    seen: set[str] = set()
    with Prometheus(f"http://127.0.0.1:{port}", timeout=3) as prometheus:
        while time.monotonic() - began < DISCOVERY_TIMEOUT:
            try:
                seen = {
                    t.labels["instance"]
                    for t in prometheus.targets()
                    if t.labels.get("job") == "services"
                    and t.labels.get("service") == service
                    and t.health == "up"
                }
            except PromAPIError:
                seen = set()
            if seen == programs:
                return time.monotonic() - began
            time.sleep(0.25)
    raise LocalError(
        f"Prometheus (127.0.0.1:{port}) scrapes {sorted(seen)} of {service}, not {sorted(programs)}, "
        f"{DISCOVERY_TIMEOUT:.0f}s after scale; see its targets page and log/prometheus.log"
    )


def _free_port() -> int:
    """A port the kernel just gave out: scaled instances need no fixed ports, file_sd finds them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
