"""Which process of the running local platform a profile is of: a service's instance, by supervisord."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airscope import catalog
from airscope.local import paths
from airscope.local.control import instance_program
from airscope.local.profiling._files import ProfileError
from airscope.local.supervisor import Supervisor


@dataclass(frozen=True)
class Target:
    service: str
    program: str  # supervisord's name: the service, or ``<service>@<n>`` for a scaled instance
    pid: int
    url: str
    home: Path


def locate(service: str, instance: int = 1, home: Path | None = None) -> Target:
    """Instance ``instance`` (1: the first) of ``service`` on the running local platform."""
    known = catalog.load().services
    if service not in known:
        raise ProfileError(f"no service {service!r}: one of {', '.join(sorted(known))}")
    home = home or paths.home()
    sup = Supervisor(home)
    if not sup.running():
        raise ProfileError(f"the local platform is not running (home {home}): start it with `make up`")
    program = instance_program(service, instance)
    names = sup.names()
    if program not in names:
        running = sorted(n for n in names if n == service or n.startswith(f"{service}@"))
        raise ProfileError(
            f"{service} has no instance {instance} (its programs: {', '.join(running) or 'none'}); "
            f"`airscope scale {service} {instance}` adds it"
        )
    pid = sup.pid(program)
    port = sup.defined_port(program)
    if pid is None or port is None:
        raise ProfileError(f"{program} is not running ({sup.state(program)}): `airscope start {program}`")
    return Target(service, program, pid, f"http://127.0.0.1:{port}", home)
