"""The compose file's rules against the defects that keep the stack from starting or from collecting,
each found once by reading the generated file against upstream (docs/deployment.md) and checked
from then on:

- **secrets**: a secret that is not a ``file:`` (``environment:``, ``content:``) is copied into the
  container by compose, which a read-only root filesystem refuses (Compose 2.33.1 and later reject
  the file outright: "'file' is the sole supported option"; older ones fail at start). Compose skips
  empty values, so an unset ``.env`` hides it until the day an operator fills one in.
- **addresses**: Docker reserves no fixed ``ipv4_address``: a container without one gets the first
  free address of the pool, so a fixed address inside it is taken by whichever container starts
  first ("Address already in use"). Every fixed address must lie in its network's subnet, outside
  the ``ip_range`` dynamic addresses come from, and not be the gateway, the network or the
  broadcast address.
- **images**: a version known not to work on current Docker Engine (``KNOWN_BAD``, each with the
  first version that works and why).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from airscope.stack import compose, compose_env

PATH = compose.PATH


@dataclass(frozen=True)
class KnownBad:
    repositories: tuple[str, ...]  # image names without tag, every registry it was published on
    works_from: tuple[int, ...]  # the first version that works
    reason: str


KNOWN_BAD = (
    KnownBad(
        ("gcr.io/cadvisor/cadvisor", "ghcr.io/google/cadvisor"),
        (0, 54, 0),
        "collects no container on Docker Engine 29: below v0.53 its Docker client speaks an API version "
        "Engine 29 refuses, and below v0.54 it cannot find a container's layer in the containerd image "
        "store (google/cadvisor#3749, #3709, #3643); releases from v0.54 are on ghcr.io/google/cadvisor",
    ),
)

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")


def check(document: dict) -> list[str]:
    return [*secrets(document), *addresses(document), *images(document)]


def _services(document: dict) -> dict[str, dict]:
    return document.get("services") or {}


def _secret_names(spec: dict) -> Iterator[str]:
    for entry in spec.get("secrets") or ():
        yield entry.get("source") if isinstance(entry, dict) else entry


def secrets(document: dict) -> list[str]:
    """Every secret a file compose bind-mounts read-only: none copied into a container."""
    problems = []
    for name, secret in (document.get("secrets") or {}).items():
        if "file" in (secret or {}):
            continue
        source = next(iter(secret or {"nothing": None}))
        users = [s for s, spec in _services(document).items() if name in _secret_names(spec)]
        read_only = [s for s in users if _services(document)[s].get("read_only")]
        why = f"secrets.{name} comes from `{source}`, not a file: compose copies such a secret into the container"
        if read_only:
            why += (
                f", which {', '.join(read_only)} (read_only: true) cannot take (Compose 2.33.1 and later "
                "refuse it: \"'file' is the sole supported option\"; older ones fail at start)"
            )
        problems.append(f"{PATH}: {why}; make it a file under {compose_env.RECEIVER_KEYS_DIR}/")
    return problems


def _pools(document: dict, network: str) -> list[dict]:
    spec = (document.get("networks") or {}).get(network) or {}
    return list((spec.get("ipam") or {}).get("config") or [])


def _fixed_addresses(document: dict) -> Iterator[tuple[str, str, str]]:
    """(service, network, address) of every fixed ipv4_address."""
    for service, spec in _services(document).items():
        networks = spec.get("networks")
        if isinstance(networks, dict):
            for network, settings in networks.items():
                address = (settings or {}).get("ipv4_address")
                if address:
                    yield service, network, str(address)


def _address_problem(address: ipaddress.IPv4Address, pools: list[dict]) -> str | None:
    """Why ``address`` can be taken by another container, or None."""
    subnets = [(ipaddress.ip_network(pool["subnet"]), pool) for pool in pools if pool.get("subnet")]
    found = [(subnet, pool) for subnet, pool in subnets if address in subnet]
    if not found:
        named = ", ".join(str(subnet) for subnet, _ in subnets) or "none"
        return f"is outside the network's subnets ({named})"
    subnet, pool = found[0]
    if address in (subnet.network_address, subnet.broadcast_address):
        return f"is the network or broadcast address of {subnet}"
    if pool.get("gateway") and address == ipaddress.ip_address(pool["gateway"]):
        return "is the network's gateway"
    if not pool.get("ip_range"):
        return (
            f"is in {subnet}, which has no ip_range: Docker hands out the whole subnet to containers "
            "without a fixed address, so one that starts first can take it"
        )
    dynamic = ipaddress.ip_network(pool["ip_range"])
    if not dynamic.subnet_of(subnet):
        return f"is in {subnet}, whose ip_range {dynamic} lies outside it"
    if address in dynamic:
        return (
            f"is inside the dynamic ip_range {dynamic}: Docker reserves no fixed address, so a container "
            "that starts first can take it ('Address already in use')"
        )
    return None


def addresses(document: dict) -> list[str]:
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for service, network, text in _fixed_addresses(document):
        where = f"{PATH}: services.{service}.networks.{network}.ipv4_address {text}"
        try:
            address = ipaddress.IPv4Address(text)
            problem = _address_problem(address, _pools(document, network))
        except ValueError as e:
            problem = f"is not usable: {e}"
        if problem:
            problems.append(f"{where} {problem}")
        other = seen.setdefault((network, text), service)
        if other != service:
            problems.append(f"{where} is also {other}'s")
    return problems


def _version(tag: str) -> tuple[int, ...] | None:
    match = _VERSION.match(tag)
    return tuple(int(part) for part in match[1].split(".")) if match else None


def images(document: dict) -> list[str]:
    problems = []
    for service, spec in _services(document).items():
        image = str(spec.get("image") or "").split("@", 1)[0]
        repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
        version = _version(tag)
        for bad in KNOWN_BAD:
            if repository in bad.repositories and version is not None and version < bad.works_from:
                first = ".".join(str(part) for part in bad.works_from)
                problems.append(
                    f"{PATH}: services.{service}.image {spec['image']!r} is below v{first}, which is "
                    f"known not to work: it {bad.reason}"
                )
    return problems
