"""``docs/reference.md``: every variable, port, data location and retention, read from the code.

Each variable is a field of a pydantic-settings model (``EnvSettings``): a service's models in its
``config.py``, the kit's ``KitEnvironment``, the stand-ins' in ``airscope.standins.settings``, local
mode's in ``airscope.local.settings``; the reference shows each field's variable, type, default,
allowed range and description. The stack's variables, ports, volumes and retention come from the
objects the generators use, so the reference changes when they do and ``airscope gen --check`` fails
while it is stale.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from airscope import catalog as service_catalog
from airscope import tables, units
from airscope.catalog import Catalog, CatalogSettings
from airscope.local import observability, paths, supervisor
from airscope.local import settings as local_settings
from airscope.services.common.config import ServiceLocation
from airscope.stack import compose, compose_env, compose_parts, jaeger, settings
from airscope.telemetry import KitEnvironment

PATH = "docs/reference.md"
STANDINS_MODULE = "airscope.standins.settings"
KINDS = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "flag",
    Path: "path",
    dict: "JSON",
    tuple: "list",
}


# --- variables, from the models -----------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One variable a model reads. ``<NAME>`` in ``name`` stands for a part that varies (a catalog name)."""

    name: str
    kind: str
    default: str
    allowed: str
    setting: str
    meaning: str


def models_in(module: str) -> list[type[BaseSettings]]:
    """The settings models ``module`` defines, in the order it defines them."""
    if importlib.util.find_spec(module) is None:
        return []
    found = [
        value
        for value in vars(importlib.import_module(module)).values()
        if inspect.isclass(value) and issubclass(value, BaseSettings) and value.__module__ == module
    ]
    return sorted(found, key=lambda model: inspect.getsourcelines(model)[1])


def _named_kind(extra: object) -> str | None:
    """The kind a type alias names for itself (``URL``, ``Size``): ``json_schema_extra={"kind": ...}``."""
    return str(extra["kind"]) if isinstance(extra, dict) and isinstance(extra.get("kind"), str) else None


def _kind(field: FieldInfo) -> str:
    if named := _named_kind(field.json_schema_extra):
        return named
    annotation = field.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        for meta in getattr(annotation, "__metadata__", ()):  # an optional alias: URL | None
            if named := _named_kind(getattr(meta, "json_schema_extra", None)):
                return named
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    return KINDS.get(typing.get_origin(annotation) or annotation, "text")  # type: ignore[call-overload]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if value is None or value is False or value == {}:
        return "unset"
    return f"`{value}`" if value != "" else "empty"


def _allowed(field: FieldInfo) -> str:
    words = {
        annotated_types.Ge: ("at least", "ge"),
        annotated_types.Gt: ("above", "gt"),
        annotated_types.Le: ("at most", "le"),
        annotated_types.Lt: ("below", "lt"),
    }
    limits = [
        f"{words[type(rule)][0]} `{getattr(rule, words[type(rule)][1])}`"
        for rule in field.metadata
        if type(rule) in words
    ]
    return ", ".join(limits)


def variables(model: type[BaseSettings]) -> list[Variable]:
    return [
        Variable(
            name=str(field.validation_alias or name),
            kind=_kind(field),
            default=_default(field),
            allowed=_allowed(field),
            setting=f"{model.__name__}.{name}",
            meaning=field.description or "",
        )
        for name, field in model.model_fields.items()
    ]


def _cell(text: str) -> str:
    return text.replace("``", "`").replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return tables.markdown(header, [[_cell(cell) for cell in row] for row in rows]) + "\n"


def _variables_table(models: Sequence[type[BaseSettings]], *, settings_column: bool = True) -> str:
    # A model that extends another repeats its fields: each variable once, where it is first declared.
    first: dict[str, Variable] = {}
    for variable in (variable for model in models for variable in variables(model)):
        first.setdefault(variable.name, variable)
    found = list(first.values())
    if not settings_column:
        return _table(
            ("variable", "type", "default", "allowed", "meaning"),
            [(f"`{v.name}`", v.kind, v.default, v.allowed, v.meaning) for v in found],
        )
    return _table(
        ("variable", "type", "default", "allowed", "setting", "meaning"),
        [(f"`{v.name}`", v.kind, v.default, v.allowed, f"`{v.setting}`", v.meaning) for v in found],
    )


def documented_models(cat: Catalog) -> list[type[BaseSettings]]:
    """Every model the reference shows."""
    services = [model for service in cat.services.values() for model in models_in(f"{service.module}.config")]
    return [
        CatalogSettings,
        ServiceLocation,
        *services,
        KitEnvironment,
        *models_in(STANDINS_MODULE),
        *models_in(local_settings.__name__),
    ]


# --- sections ------------------------------------------------------------------------------------------

HEADER = """\
# Reference

Generated by `airscope gen` from the code (`src/airscope/gen/reference.py` says from where); do not
edit by hand. Elsewhere: every metric in [metrics.md](metrics.md), every alert and drill in
[alerting.md](alerting.md), one runbook per alert in [runbooks/](runbooks/), local mode's commands in
[local.md](local.md), the production stack in [deployment.md](deployment.md), adding a service in
[adding-a-service.md](adding-a-service.md).
"""


def _services_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Configuration of the services\n\n"
    yield (
        "Each service reads these at start-up (`create_app()`) into the settings models of its "
        "`config.py` and refuses to start, naming the variable, when one is required and unset or out of "
        "its allowed range; an empty variable counts as unset. Every service also reads the "
        "[telemetry kit's variables](#the-telemetry-kits-variables). `<NAME>` in a variable stands for a "
        "catalog name in upper case with `_` for `-` (`AIRSCOPE_URL_MCP_SERVER`); local mode and compose "
        "set every `AIRSCOPE_URL_<NAME>`, `DATABASE_URL` and `REDIS_URL` themselves.\n"
    )
    yield "\n### Every service\n\n"
    yield _variables_table([CatalogSettings, ServiceLocation])
    for service in cat.services.values():
        if not service.exists():
            continue
        yield f"\n### {service.name}\n\n"
        models = models_in(f"{service.module}.config")
        yield _variables_table(models) if models else "Reads no variables beyond the kit's.\n"


def _kit_section() -> Iterator[str]:
    yield "\n## The telemetry kit's variables\n\n"
    yield " ".join((KitEnvironment.__doc__ or "").split()) + "\n\n"
    yield _variables_table([KitEnvironment])


def _standins_section() -> Iterator[str]:
    yield "\n## Configuration of the stand-ins\n\n"
    yield (
        "Local mode runs these in place of the outside SaaS (never in production: "
        f"`AIRSCOPE_ENVIRONMENT=production` refuses them); `{STANDINS_MODULE}` holds their models.\n\n"
    )
    yield _variables_table(models_in(STANDINS_MODULE))


def _stack_section(cat: Catalog) -> Iterator[str]:
    yield "\n## The production stack's variables (`deploy/.env`)\n\n"
    yield (
        f"`docker compose` reads these from `deploy/.env`; `{compose.ENV_EXAMPLE_PATH}` lists them with the "
        "same words. Random: make one with `openssl rand -hex 32`.\n\n"
    )
    rows = [
        (
            f"`{v.name}`",
            "**required**, random"
            if v.random
            else "**required**"
            if v.default is None
            else f"`{v.default}`"
            if v.default
            else "empty",
            v.comment,
        )
        for v in compose_env.variables(cat)
    ]
    yield _table(("variable", "default", "meaning"), rows)


def _local_section() -> Iterator[str]:
    yield "\n## Local mode's variables\n\n"
    yield (
        "Read by `airscope` itself (`make up` and the other commands); local mode also sets the kit's "
        "`AIRSCOPE_INSTANCE_ID` and `AIRSCOPE_DRILLS` for each program it runs.\n\n"
    )
    yield _variables_table([CatalogSettings, *models_in(local_settings.__name__)], settings_column=False)


def _units_section() -> Iterator[str]:
    yield "\n## Durations and sizes\n\n"
    yield (
        "Every command, flag and variable that takes a duration or a size reads it in one grammar "
        "(`airscope.units`).\n\n"
    )
    yield f"- {units.DURATION_GRAMMAR}\n- {units.SIZE_GRAMMAR}\n"


def _ports_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Ports\n\n"
    yield (
        "Local mode listens on 127.0.0.1 only; each port moves with its variable. In compose, services talk "
        f"on the `{settings.NETWORK}` network and only {', '.join(compose.PUBLISHED)} are published "
        f"(on `{compose_env.BIND_ADDRESS.name}`).\n\n"
    )

    def variable(name: str) -> str:
        return f"`{local_settings.PORT_ENV.replace('<NAME>', service_catalog.env_name(name))}`"

    rows = [(s.name, "service", str(s.port), str(s.port), variable(s.name)) for s in cat.services.values()]
    images = {"postgres": compose.POSTGRES_PORT, "redis": compose.REDIS_PORT}
    rows += [
        (i.name, "store", str(images[i.name]), str(i.port), variable(i.name))
        for i in cat.infrastructure.values()
    ]
    for saas in cat.external.values():
        name = f"standin-{saas.name}"
        rows.append((name, "stand-in", "—", str(saas.standin.port), variable(name)))
    local_ports = observability.DEFAULT_PORTS
    for name in dict.fromkeys([*settings.PORTS, *local_ports]):
        local = local_ports.get(name)
        compose_port = str(settings.PORTS.get(name, "—"))
        rows.append(
            (
                name,
                "observability",
                compose_port,
                str(local) if local else "—",
                variable(name) if local else "",
            )
        )
    yield _table(("program", "kind", "compose", "local default", "local variable"), rows)


# Local mode's places besides the directories ``paths`` names (a test finds each in airscope.local).
LOCAL_PLACES = (
    ("log/", "Each program's output, `<program>.log`, and its rotated files (retention below)."),
    ("data/postgres/", "The PostgreSQL cluster: a role and a database per service that requires one."),
    ("data/prometheus/", "Prometheus' TSDB (local retention below)."),
    ("data/alertmanager/", "Alertmanager's silences and notification log."),
    ("prometheus/", "Prometheus' rendered config, rules and `file_sd` target files."),
    ("alertmanager/", "Alertmanager's rendered config."),
    ("alerts/notifications.jsonl", "Every notification the local receiver got (`airscope alerts`)."),
    ("supervisor/", "supervisord's config, and each program's secrets (`env/<program>.json`, owner only)."),
    ("secrets/", "Generated passwords and the JWT secret, owner only."),
    ("api-key", "The local API key (unless `AIRSCOPE_API_KEY` is set)."),
    ("instances.json", "Which instances `airscope scale` runs, on which ports."),
)


def _data_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Data locations\n\n"
    yield "Local mode: under `$AIRSCOPE_HOME` (default: `var/` in the checkout).\n\n"
    home = paths.home()
    rows = [
        (f"`{function().relative_to(home)}/`", (function.__doc__ or "").strip())
        for function in (paths.data_dir, paths.run_dir, paths.trace_dir)
    ]
    rows += [(f"`{place}`", what) for place, what in LOCAL_PLACES]
    yield _table(("path", "what"), rows)
    yield "\nCompose: named volumes of the project `" + compose.PROJECT + "` (`docker volume ls`).\n\n"
    document = compose.compose(cat)
    rows = [
        (f"`{mount.split(':')[0]}`", service, f"`{mount.split(':')[1]}`")
        for service, spec in document["services"].items()
        for mount in spec.get("volumes", ())
        if isinstance(mount, str)
    ]
    yield _table(("volume", "container", "path"), rows)


# Why each limit is what it is. The constants live in stack.settings, local.observability and
# local.supervisor, which keep their reasons in comments a program cannot read; the words are here.
STACK_RETENTION = (
    (
        "Prometheus",
        "time",
        "PROMETHEUS_RETENTION_TIME",
        "Mimir keeps the long term; local disk holds two weeks",
    ),
    ("Prometheus", "size", "PROMETHEUS_RETENTION_SIZE", "whichever comes first"),
    ("Mimir", "time", "MIMIR_RETENTION", "a year of metrics for capacity planning"),
    ("Loki", "time", "LOKI_RETENTION", "31 days: a month of incidents is searchable"),
    ("Tempo", "time", "TRACE_RETENTION", "14 days of traces (Tempo's default)"),
)
# Jaeger has a store of its own, not Tempo's: Alloy sends it the same spans, it keeps the newest in memory.
JAEGER_WHY = "the recent view beside Tempo, in memory: the oldest go first, and every trace on a restart"
LOCAL_PROMETHEUS_WHY = "local history: a week, bounded on disk"
SUPERVISOR_LOG_WHY = "per file; older output moves to .1, .2, ... (retention: the two rows below)"


def _retention_section() -> Iterator[str]:
    yield "\n## Retention\n\n"
    rows = [
        ("compose", what, limit, f"`{getattr(settings, name)}`", f"`settings.{name}`", why)
        for what, limit, name, why in STACK_RETENTION
    ]
    rows.append(("compose", "Jaeger", "traces", f"`{jaeger.MAX_TRACES}`", "`jaeger.MAX_TRACES`", JAEGER_WHY))
    options = compose_parts.log_driver()["options"]
    rows.append(
        (
            "compose",
            "container logs (json-file, read by Alloy)",
            "size",
            f"`{options['max-file']}` files of `{options['max-size']}`",
            "`compose_parts.log_driver`",
            "Rotated by Docker so no log fills the disk.",
        )
    )
    time, size = observability.PROMETHEUS_RETENTION
    where = "`observability.PROMETHEUS_RETENTION`"
    rows += [
        ("local", "Prometheus", "time", f"`{time}`", where, LOCAL_PROMETHEUS_WHY),
        ("local", "Prometheus", "size", f"`{size}`", where, LOCAL_PROMETHEUS_WHY),
        (
            "local",
            "program logs (`log/`)",
            "file size",
            f"`{units.format_size(supervisor.LOG_MAX_BYTES)}`",
            "`supervisor.LOG_MAX_BYTES`",
            SUPERVISOR_LOG_WHY,
        ),
    ]
    fields = local_settings.LocalSettings.model_fields
    for limit, name in (("size", "log_max_bytes"), ("age", "log_max_age")):
        field = fields[name]
        rows.append(
            (
                "local",
                "program logs (`log/`)",
                limit,
                _default(field),
                f"`{field.validation_alias}`",
                field.description,
            )
        )
    yield _table(("where", "what", "limit", "value", "set by", "why"), rows)
    yield (
        "\nLocal trace files (`traces/`) are never trimmed: delete them while the platform is down to "
        "start afresh.\n"
    )


CHANGELOG = """
## Changelog

Issue 17 (one layered package) changed what some values mean:

- One grammar for durations and sizes everywhere (see [Durations and sizes](#durations-and-sizes)).
  A bare number means seconds for every duration:
  - `airscope traces --min-duration 500` is now 500 s (it was 500 ms); write `500ms`. `0` is allowed.
  - `airscope logs --since 90` and `airscope traces --since 90` now mean 90 s ago (a bare number was
    refused); units and RFC 3339 times work as before.
  - `airscope load --duration`, `airscope check --live --duration`, `airscope soak --duration
    --sample --warmup`, `airscope bench --step-seconds --normal-seconds` and the wrk `--duration`
    of `airscope bench overhead` and `telemetry-outage`: a bare number is still seconds; `ms`, `d`,
    `w` and compounds such as `1h30m` are new.
  - `AIRSCOPE_LOG_MAX_AGE`: a bare number is seconds (it was refused).
- `AIRSCOPE_LOG_MAX_BYTES`: `KB`, `MB`, `GB` are now powers of 1000 (they were 1024) and `KiB`, `MiB`,
  `GiB` powers of 1024; a bare `K`, `M` or `G` without `B` is refused. The default, 50 MiB, is
  unchanged.
- Library code raises `airscope.errors.AirscopeError`; the command line prints it as one line, as
  before.
"""


def render() -> str:
    cat = service_catalog.load()
    sections = (
        _services_section(cat),
        _kit_section(),
        _standins_section(),
        _stack_section(cat),
        _local_section(),
        _units_section(),
        _ports_section(cat),
        _data_section(cat),
        _retention_section(),
    )
    return HEADER + "".join(part for section in sections for part in section) + CHANGELOG


def generate() -> dict[str, str]:
    return {PATH: render()}
