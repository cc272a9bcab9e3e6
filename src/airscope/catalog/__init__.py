"""The service catalog: which services and infrastructure the platform has.

Read from ``catalog.yaml`` beside this module, or from the file named by
``AIRSCOPE_CATALOG`` (a temporary catalog in tests, a fork's own services).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CATALOG_ENV = "AIRSCOPE_CATALOG"
DEFAULT_PATH = Path(__file__).with_name("catalog.yaml")
INFRASTRUCTURE_KINDS = frozenset({"postgres", "redis"})
TIERS = (1, 2, 3)
# What a service gets for a key that neither it nor the catalog's 'defaults' sets.
BUILTIN_DEFAULTS = {
    "owner": "platform-team",
    "tier": 2,
    "slo": {"availability": 0.99, "latency_seconds": 0.5, "latency_target": 0.95},
    "memory_limit": 256,
}


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class SLO:
    """Availability: share of requests without a 5xx. Latency: share faster than the threshold."""

    availability: float
    latency_seconds: float
    latency_target: float


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    module: str
    requires: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    owner: str = BUILTIN_DEFAULTS["owner"]
    tier: int = BUILTIN_DEFAULTS["tier"]
    slo: SLO = SLO(**BUILTIN_DEFAULTS["slo"])
    memory_limit_mib: int = BUILTIN_DEFAULTS["memory_limit"]
    high_latency_seconds: float | None = None  # None: HighLatency compares p95 to the SLO's threshold

    @property
    def alert_latency_seconds(self) -> float:
        """The p95 above which HighLatency fires: measured (``high_latency_seconds``), else the SLO's."""
        return self.high_latency_seconds or self.slo.latency_seconds

    @property
    def env_name(self) -> str:
        """The service's name as it appears inside environment variable names."""
        return self.name.upper().replace("-", "_")

    def exists(self) -> bool:
        """True once the service's package is in the tree (later issues add them one by one)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False


@dataclass(frozen=True)
class Infrastructure:
    name: str
    port: int


@dataclass(frozen=True)
class Standin:
    """The dev stand-in for an outside SaaS: local mode serves ``module`` on ``port``."""

    port: int
    module: str
    path: str = ""
    # Variables every service gets while the stand-in runs (what its seeded data implies), as
    # (name, value) pairs: a stand-in is a dictionary key, so hashable.
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class External:
    """An outside SaaS: services read its base URL from ``url_env`` and credential from ``key_env``."""

    name: str
    url_env: str
    key_env: str
    standin: Standin


@dataclass(frozen=True)
class Catalog:
    services: dict[str, Service]
    infrastructure: dict[str, Infrastructure] = field(default_factory=dict)
    external: dict[str, External] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise KeyError(f"no service {name!r} in the catalog (known: {known})") from None

    def start_order(self) -> list[Service]:
        """Services ordered so that everything a service calls starts before it."""
        ordered: list[Service] = []
        done: set[str] = set()

        def visit(service: Service, path: tuple[str, ...]) -> None:
            if service.name in done:
                return
            if service.name in path:
                cycle = " -> ".join((*path, service.name))
                raise CatalogError(f"dependency cycle in the catalog: {cycle}")
            for callee in service.calls:
                visit(self.services[callee], (*path, service.name))
            done.add(service.name)
            ordered.append(service)

        for service in self.services.values():
            visit(service, ())
        return ordered


def parse(data: dict) -> Catalog:
    """Builds a Catalog from the YAML document, checking every cross-reference."""
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise CatalogError("the catalog needs a top-level 'services' mapping")
    infrastructure = {}
    for name, entry in (data.get("infrastructure") or {}).items():
        if name not in INFRASTRUCTURE_KINDS:
            raise CatalogError(
                f"infrastructure {name!r}: unknown kind (known: {sorted(INFRASTRUCTURE_KINDS)})"
            )
        infrastructure[name] = Infrastructure(name=name, port=_port(name, entry))
    external = {name: _external(name, entry) for name, entry in (data.get("external") or {}).items()}
    defaults = {**BUILTIN_DEFAULTS, **(data.get("defaults") or {})}
    services = {}
    for name, entry in data["services"].items():
        if not isinstance(entry, dict) or not entry.get("module"):
            raise CatalogError(f"service {name!r}: needs 'port' and 'module'")
        settings = {**defaults, **entry}
        services[name] = Service(
            name=name,
            port=_port(name, entry),
            module=entry["module"],
            requires=tuple(entry.get("requires", ())),
            calls=tuple(entry.get("calls", ())),
            external=tuple(entry.get("external", ())),
            owner=str(settings["owner"]),
            tier=_tier(name, settings["tier"]),
            slo=_slo(name, {**defaults["slo"], **(entry.get("slo") or {})}),
            memory_limit_mib=_memory_limit(name, settings["memory_limit"]),
            high_latency_seconds=_high_latency(name, entry.get("high_latency_seconds")),
        )
    for service in services.values():
        for infra in service.requires:
            if infra not in infrastructure:
                raise CatalogError(
                    f"service {service.name!r} requires {infra!r}, which is not in 'infrastructure'"
                )
        for callee in service.calls:
            if callee not in services:
                raise CatalogError(f"service {service.name!r} calls {callee!r}, which is not a service")
        for saas in service.external:
            if saas not in external:
                raise CatalogError(f"service {service.name!r} reaches {saas!r}, which is not in 'external'")
    ports: dict[int, str] = {}
    for name, port in (
        [(s.name, s.port) for s in services.values()]
        + [(i.name, i.port) for i in infrastructure.values()]
        + [(f"{e.name} stand-in", e.standin.port) for e in external.values()]
    ):
        if port in ports:
            raise CatalogError(f"{name!r} and {ports[port]!r} both use port {port}")
        ports[port] = name
    catalog = Catalog(services=services, infrastructure=infrastructure, external=external)
    catalog.start_order()  # rejects cycles now rather than at start-up
    return catalog


def _external(name: str, entry: object) -> External:
    if not isinstance(entry, dict) or not all(entry.get(k) for k in ("url_env", "key_env", "standin")):
        raise CatalogError(f"external {name!r}: needs 'url_env', 'key_env' and 'standin'")
    standin = entry["standin"]
    if not isinstance(standin, dict) or not standin.get("module"):
        raise CatalogError(f"external {name!r}: 'standin' needs 'port' and 'module'")
    return External(
        name=name,
        url_env=entry["url_env"],
        key_env=entry["key_env"],
        standin=Standin(
            port=_port(f"{name} stand-in", standin),
            module=standin["module"],
            path=standin.get("path", ""),
            env=_standin_env(name, standin.get("env", {})),
        ),
    )


def _standin_env(name: str, env: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise CatalogError(f"external {name!r}: 'standin.env' must map variable names to strings")
    return tuple((str(key), value) for key, value in env.items())


def _tier(name: str, tier: object) -> int:
    if tier not in TIERS:
        raise CatalogError(f"service {name!r}: 'tier' must be one of {TIERS}, got {tier!r}")
    return int(tier)


def _slo(name: str, slo: dict) -> SLO:
    # The latency SLI counts requests in the histogram bucket at the threshold, so the threshold
    # must be one of the kit's bucket boundaries.
    from airscope.telemetry import LATENCY_BUCKETS

    for key in ("availability", "latency_target"):
        if not isinstance(slo.get(key), float) or not 0.5 <= slo[key] < 1:
            raise CatalogError(
                f"service {name!r}: slo.{key} must be a fraction in [0.5, 1), got {slo.get(key)!r}"
            )
    if slo.get("latency_seconds") not in LATENCY_BUCKETS:
        raise CatalogError(
            f"service {name!r}: slo.latency_seconds must be a latency bucket "
            f"{list(LATENCY_BUCKETS)}, got {slo.get('latency_seconds')!r}"
        )
    return SLO(float(slo["availability"]), float(slo["latency_seconds"]), float(slo["latency_target"]))


def _high_latency(name: str, seconds: object) -> float | None:
    # A bucket boundary, for the reason the SLO's threshold is one.
    from airscope.telemetry import LATENCY_BUCKETS

    if seconds is None:
        return None
    if seconds not in LATENCY_BUCKETS:
        raise CatalogError(
            f"service {name!r}: 'high_latency_seconds' must be a latency bucket {list(LATENCY_BUCKETS)}, "
            f"got {seconds!r}"
        )
    return float(seconds)


def _memory_limit(name: str, mib: object) -> int:
    if not isinstance(mib, int) or mib < 32:
        raise CatalogError(f"service {name!r}: 'memory_limit' must be whole MiB (at least 32), got {mib!r}")
    return mib


def _port(name: str, entry: object) -> int:
    port = entry.get("port") if isinstance(entry, dict) else None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise CatalogError(f"{name!r}: 'port' must be an integer from 1 to 65535, got {port!r}")
    return port


def load(path: str | os.PathLike | None = None) -> Catalog:
    """The catalog at ``path``, else at $AIRSCOPE_CATALOG, else the project's own."""
    chosen = Path(path or os.environ.get(CATALOG_ENV) or DEFAULT_PATH)
    return _load_file(chosen.resolve())


@cache
def _load_file(path: Path) -> Catalog:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CatalogError(
            f"cannot read the catalog {path}: {exc.strerror} (set {CATALOG_ENV} to its path)"
        ) from exc
    return parse(yaml.safe_load(text))
