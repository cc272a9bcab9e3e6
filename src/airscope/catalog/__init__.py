"""The service catalog: which services and infrastructure the platform has.

Read from ``catalog.yaml`` beside this module, or from the file named by ``AIRSCOPE_CATALOG`` (a
temporary catalog in tests, a fork's own services), into pydantic models whose validation is the
catalog's rules; a broken catalog raises ``CatalogError`` naming the entry and the field.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from airscope.errors import AirscopeError
from airscope.telemetry import LATENCY_BUCKETS, EnvSettings

CATALOG_ENV = "AIRSCOPE_CATALOG"
DEFAULT_PATH = Path(__file__).with_name("catalog.yaml")
INFRASTRUCTURE_KINDS = frozenset({"postgres", "redis"})
TIERS = (1, 2, 3)
# The team that owns what is not a service (hosts, PostgreSQL, Redis, the observability stack): its
# alerts, and any alert without a known owner, go to it. The catalog must name it among its teams.
INFRA_TEAM = "infra"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# What a service gets for a key that neither it nor the catalog's 'defaults' sets.
BUILTIN_DEFAULTS = {
    "owner": "platform-team",
    "tier": 2,
    "slo": {"availability": 0.99, "latency_seconds": 0.5, "latency_target": 0.95},
    "memory_limit": 256,
}


# The teams of a catalog that names none (a fork's first, a test's): the default owner and infra.
BUILTIN_TEAMS = {
    "platform-team": {"channel": "#platform-alerts", "escalation": "Platform on-call", "ack_minutes": 15},
    INFRA_TEAM: {"channel": "#infra-alerts", "escalation": "Infrastructure on-call", "ack_minutes": 10},
}


class CatalogError(AirscopeError, ValueError):
    """The catalog file is malformed; the message names the entry and the problem."""


def env_name(name: str) -> str:
    """A catalog name as it appears inside environment variable names: ``mcp-server`` -> ``MCP_SERVER``."""
    return name.upper().replace("-", "_")


def _rule(test: Callable[[Any], bool], text: str) -> BeforeValidator:
    """A field rule checked on the YAML value as written (no coercion: ``"80"`` is no port)."""

    def check(value: Any) -> Any:
        if not test(value):
            raise ValueError(text)
        return value

    return BeforeValidator(check)


Port = Annotated[
    int, _rule(lambda v: isinstance(v, int) and 0 < v < 65536, "must be an integer from 1 to 65535")
]
Fraction = Annotated[
    float, _rule(lambda v: isinstance(v, float) and 0.5 <= v < 1, "must be a fraction in [0.5, 1)")
]
# The latency SLI counts requests in the histogram bucket at the threshold, so a latency threshold
# must be one of the kit's bucket boundaries.
_BUCKET = f"must be a latency bucket {list(LATENCY_BUCKETS)}"
Bucket = Annotated[float, _rule(lambda v: v in LATENCY_BUCKETS, _BUCKET)]
OptionalBucket = Annotated[float | None, _rule(lambda v: v is None or v in LATENCY_BUCKETS, _BUCKET)]
Tier = Annotated[int, _rule(lambda v: v in TIERS, f"must be one of {TIERS}")]
MemoryMiB = Annotated[int, _rule(lambda v: isinstance(v, int) and v >= 32, "must be whole MiB (at least 32)")]
Name = Annotated[str, Field(min_length=1)]


def _pairs(env: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(env, dict) or not all(isinstance(value, str) for value in env.values()):
        raise ValueError("must map variable names to strings")
    return tuple((str(key), value) for key, value in env.items())


VariableValues = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_pairs)]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True)


class SLOReasons(_Entry):
    """Why each target is what it is, in a line: docs/slo.md, `airscope slo` and the OpenSLO export say it."""

    availability: str = ""
    latency: str = ""


class SLO(_Entry):
    """Availability: share of requests without a 5xx. Latency: share faster than the threshold."""

    availability: Fraction
    latency_seconds: Bucket
    latency_target: Fraction
    why: SLOReasons = SLOReasons()

    def objective(self, sli: str) -> float:
        """The target share of good requests of an SLI (``availability`` or ``latency``)."""
        return {"availability": self.availability, "latency": self.latency_target}[sli]

    def reason(self, sli: str) -> str:
        return getattr(self.why, sli)


class Service(_Entry):
    name: str
    port: Port
    module: Name
    requires: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    owner: str = BUILTIN_DEFAULTS["owner"]
    tier: Tier = BUILTIN_DEFAULTS["tier"]
    slo: SLO = SLO(**BUILTIN_DEFAULTS["slo"])
    memory_limit_mib: MemoryMiB = Field(BUILTIN_DEFAULTS["memory_limit"], alias="memory_limit")
    # None: HighLatency compares p95 to the SLO's threshold.
    high_latency_seconds: OptionalBucket = None

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @property
    def alert_latency_seconds(self) -> float:
        """The p95 above which HighLatency fires: measured (``high_latency_seconds``), else the SLO's."""
        return self.high_latency_seconds or self.slo.latency_seconds

    @property
    def env_name(self) -> str:
        """The service's name as it appears inside environment variable names."""
        return env_name(self.name)

    def exists(self) -> bool:
        """True once the service's package is in the tree (later issues add them one by one)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False


class Team(_Entry):
    """Who answers for a service's alerts: where its warnings go, who is paged and how fast."""

    name: str
    channel: Annotated[str, _rule(lambda v: isinstance(v, str) and v.startswith("#"), "must be a #channel")]
    escalation: Name  # the PagerDuty escalation policy its pages follow
    ack_minutes: Annotated[int, _rule(lambda v: isinstance(v, int) and v > 0, "must be whole minutes")]
    email: Annotated[
        str | None, _rule(lambda v: v is None or (isinstance(v, str) and "@" in v), "must be an address")
    ] = None


def _weekdays(value: Any) -> Any:
    days = value if isinstance(value, list) else [value]
    for day in days:
        ends = str(day).split(":")
        if len(ends) > 2 or not all(end in WEEKDAYS for end in ends):
            raise ValueError(f"must be weekdays or ranges like monday:friday, from {list(WEEKDAYS)}")
    return tuple(days)


def _times(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(
        r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", value
    ):
        raise ValueError('must be "HH:MM-HH:MM" (24-hour clock)')
    start, end = value.split("-")
    if start >= end:
        raise ValueError("must end after it starts (a window over midnight is two windows)")
    return value


class MaintenanceWindow(_Entry):
    """A declared recurring window of planned work: the named teams are not notified during it
    (Alertmanager time intervals); alerts still fire, show and inhibit."""

    name: str
    teams: tuple[str, ...]
    weekdays: Annotated[tuple[str, ...], BeforeValidator(_weekdays)]
    times: Annotated[str, BeforeValidator(_times)]
    location: Name = "UTC"
    reason: Name


class Infrastructure(_Entry):
    name: str
    port: Port


class Standin(_Entry):
    """The dev stand-in for an outside SaaS: local mode serves ``module`` on ``port``."""

    port: Port
    module: Name
    path: str = ""
    # Variables every service gets while the stand-in runs (what its seeded data implies), as
    # (name, value) pairs: a stand-in is a dictionary key, so hashable.
    env: VariableValues = ()


class External(_Entry):
    """An outside SaaS: services read its base URL from ``url_env`` and credential from ``key_env``."""

    name: str
    url_env: Name
    key_env: Name
    standin: Standin


class Catalog(_Entry):
    services: dict[str, Service]
    teams: dict[str, Team] = {}
    infrastructure: dict[str, Infrastructure] = {}
    external: dict[str, External] = {}
    maintenance: dict[str, MaintenanceWindow] = {}

    @model_validator(mode="before")
    @classmethod
    def _named_with_defaults(cls, data: Any) -> Any:
        """Each entry gets its key as its name; each service the catalog's defaults for what it leaves out."""
        if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
            raise ValueError("the catalog needs a top-level 'services' mapping")
        unknown = sorted(set(data.get("infrastructure") or {}) - INFRASTRUCTURE_KINDS)
        if unknown:
            raise ValueError(
                f"infrastructure {unknown[0]!r}: unknown kind (known: {sorted(INFRASTRUCTURE_KINDS)})"
            )
        defaults = {**BUILTIN_DEFAULTS, **(data.get("defaults") or {})}

        def service(name: str, entry: Any) -> Any:
            if not isinstance(entry, dict):
                return entry
            slo = {**defaults["slo"], **(entry.get("slo") or {})}
            return {**defaults, **entry, "name": name, "slo": slo}

        def named_builtin_teams() -> dict[str, Any]:
            return {name: {**team, "name": name} for name, team in BUILTIN_TEAMS.items()}

        def named(section: str) -> dict[str, Any]:
            entries = data.get(section) or {}
            return {name: {**e, "name": name} if isinstance(e, dict) else e for name, e in entries.items()}

        return {
            "services": {name: service(name, entry) for name, entry in data["services"].items()},
            "teams": named("teams") if data.get("teams") else named_builtin_teams(),
            "infrastructure": named("infrastructure"),
            "external": named("external"),
            "maintenance": named("maintenance"),
        }

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        if INFRA_TEAM not in self.teams:
            raise ValueError(f"the catalog needs a team {INFRA_TEAM!r}: it owns hosts, stores and the stack")
        for service in self.services.values():
            if service.owner not in self.teams:
                raise ValueError(
                    f"service {service.name!r} is owned by {service.owner!r}, which is not a team"
                )
            for kind, names, known, what in (
                ("requires", service.requires, self.infrastructure, "which is not in 'infrastructure'"),
                ("calls", service.calls, self.services, "which is not a service"),
                ("reaches", service.external, self.external, "which is not in 'external'"),
            ):
                for name in names:
                    if name not in known:
                        raise ValueError(f"service {service.name!r} {kind} {name!r}, {what}")
        users: dict[int, str] = {}
        for name, port in (
            *((s.name, s.port) for s in self.services.values()),
            *((i.name, i.port) for i in self.infrastructure.values()),
            *((f"{e.name} stand-in", e.standin.port) for e in self.external.values()),
        ):
            if port in users:
                raise ValueError(f"{name!r} and {users[port]!r} both use port {port}")
            users[port] = name
        for window in self.maintenance.values():
            for team in window.teams:
                if team not in self.teams:
                    raise ValueError(f"maintenance {window.name!r} mutes {team!r}, which is not a team")
        self.start_order()  # rejects cycles now rather than at start-up
        return self

    def owner(self, service: str) -> Team:
        return self.teams[self.service(service).owner]

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise KeyError(f"no service {name!r} in the catalog (known: {known})") from None

    def start_order(self) -> list[Service]:
        """Services ordered so that everything a service calls starts before it (catalog order among
        those that may start together)."""
        sorter = TopologicalSorter({name: service.calls for name, service in self.services.items()})
        try:
            sorter.prepare()
        except CycleError as exc:
            raise CatalogError(
                f"dependency cycle in the catalog: {' -> '.join(reversed(exc.args[1]))}"
            ) from None
        rank = {name: index for index, name in enumerate(self.services)}
        ordered: list[Service] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=rank.__getitem__)
            ordered += (self.services[name] for name in ready)
            sorter.done(*ready)
        return ordered


_SECTIONS = {
    "services": "service",
    "teams": "team",
    "infrastructure": "infrastructure",
    "external": "external",
    "maintenance": "maintenance",
}


def _problem(error: ErrorDetails) -> str:
    """``service 'a': 'slo.availability' must be ..., got 0.3``: the entry, the field, the rule."""
    loc = [str(part) for part in error["loc"]]
    cause = (error.get("ctx") or {}).get("error")
    text = str(cause) if cause is not None else error["msg"][0].lower() + error["msg"][1:]
    if len(loc) < 2 or loc[0] not in _SECTIONS:
        return text
    where, field = f"{_SECTIONS[loc[0]]} {loc[1]!r}", ".".join(loc[2:])
    if error["type"] == "missing":
        return f"{where}: needs {field!r}"
    if not field:
        return f"{where}: {text}"
    return f"{where}: {field!r} {text}, got {error.get('input')!r}"


def parse(data: Any) -> Catalog:
    """The catalog in a YAML document, every field and cross-reference checked."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError("; ".join(_problem(error) for error in exc.errors())) from None


class CatalogSettings(EnvSettings):
    """Which catalog every command and service reads."""

    path: Path | None = Field(None, validation_alias=CATALOG_ENV)
    """Path of the service catalog; unset: the project's own (`src/airscope/catalog/catalog.yaml`)."""


def load(path: str | os.PathLike | None = None) -> Catalog:
    """The catalog at ``path``, else at $AIRSCOPE_CATALOG, else the project's own."""
    chosen = Path(path or CatalogSettings.from_env().path or DEFAULT_PATH)
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
