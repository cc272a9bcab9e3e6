"""``docs/reference.md``: every variable, port, data location and retention, read from the code.

Services read their configuration with ``env_str``/``env_int``/``env_float`` (and a few
``os.environ.get``) calls; the reference is what the syntax tree of each service's package says
those calls read, with the default, the minimum, the setting each fills and the comment above that
setting. The stack's variables, ports, volumes and retention come from the objects the generators
use, so the reference changes when they do and ``airscope gen --check`` fails while it is stale.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from airscope import catalog as service_catalog
from airscope.catalog import Catalog
from airscope.local import logs, observability, paths, ports, supervisor
from airscope.stack import compose, settings
from airscope.telemetry import _settings as kit_settings

PATH = "docs/reference.md"

ENV_READERS = {"env_str": "text", "env_int": "integer", "env_float": "number"}
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# The packages whose module-level ``*_ENV`` constants name local mode's variables.
LOCAL_MODULES = ("airscope.catalog", "airscope.local.paths", "airscope.local.runner", "airscope.local.logs")

# What local mode's variables do. The code names them (``*_ENV`` constants) but says what they do in
# prose spread over several functions, so the words live here; `airscope gen` fails when a constant
# has no entry, or an entry no constant.
LOCAL_VARIABLES = {
    "AIRSCOPE_CATALOG": ("the project's catalog.yaml", "Path of the service catalog every command reads."),
    "AIRSCOPE_HOME": ("`var/` in the checkout", "Where local mode keeps everything (see Data locations)."),
    "AIRSCOPE_API_KEY": (
        "generated once into `$AIRSCOPE_HOME/api-key`",
        "The key the gateway accepts in X-API-Key; `airscope load` and `airscope bench` send it.",
    ),
    "AIRSCOPE_JWT_SECRET": (
        "generated once into `$AIRSCOPE_HOME/secrets/jwt`",
        "Signs and verifies login tokens (platform-services issues them, the gateway checks them).",
    ),
    "AIRSCOPE_INSTANCE_ID": (
        "the program's name, e.g. `mcp-server-2`",
        "Set by local mode for each instance: `service.instance.id` and the name of its trace file.",
    ),
    "AIRSCOPE_DRILLS": (
        "`1` (set by local mode)",
        "Mounts the services' drill switches `airscope drill` uses.",
    ),
    "AIRSCOPE_LOG_MAX_BYTES": (
        f"`{logs.DEFAULT_MAX_BYTES}`",
        "Rotated logs kept per program, current file included (oldest deleted first at each `up`).",
    ),
    "AIRSCOPE_LOG_MAX_AGE": (
        f"`{logs.DEFAULT_MAX_AGE}`",
        "Rotated logs older than this are deleted at each `up`.",
    ),
}


# --- reading source files ------------------------------------------------------------------------------


class SourceFile:
    """A Python file's syntax tree and its comments by line, for finding what a value is for."""

    def __init__(self, path: Path, module: str) -> None:
        self.path = path
        self.module = module
        self.text = path.read_text()
        self.tree = ast.parse(self.text)
        self.lines = self.text.splitlines()
        self.comments: dict[int, str] = {
            token.start[0]: token.string.lstrip("#").strip()
            for token in tokenize.generate_tokens(io.StringIO(self.text).readline)
            if token.type == tokenize.COMMENT
        }
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                child.parent = node  # type: ignore[attr-defined]

    @cached_property
    def namespace(self) -> dict[str, object]:
        """The module's globals, imported only when a default names a constant."""
        return vars(importlib.import_module(self.module))

    def _comment_only(self, line: int) -> bool:
        return 1 <= line <= len(self.lines) and self.lines[line - 1].lstrip().startswith("#")

    def _joined(self, lines: range) -> str:
        # A "# --- section ---" divider heads a group of lines; it says nothing about the one below it.
        texts = (self.comments.get(line, "") for line in lines)
        return " ".join(text for text in texts if text and not text.startswith("---"))

    def comment_for(self, lineno: int) -> str:
        """The comment block right above line ``lineno`` and the comment at its end."""
        first = lineno
        while self._comment_only(first - 1):
            first -= 1
        last = lineno if not self._comment_only(lineno) else lineno - 1
        return self._joined(range(first, last + 1))

    def mentions(self, word: str) -> list[str]:
        """Every whole comment block, and the first paragraph of every docstring, that names ``word``."""
        found = []
        for line, text in sorted(self.comments.items()):
            if word in text:
                first, last = line, line
                while self._comment_only(first - 1):
                    first -= 1
                while self._comment_only(last + 1) and self._comment_only(line):
                    last += 1
                found.append(self._joined(range(first, last + 1)))
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and word in (ast.get_docstring(node) or ""):
                found.append(" ".join(ast.get_docstring(node).split("\n\n")[0].split()))  # type: ignore[union-attr]
        return list(dict.fromkeys(found))

    def constant(self, name: str) -> ast.Assign | ast.AnnAssign | None:
        for node in self.tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return node  # type: ignore[return-value]
        return None

    def field(self, name: str) -> tuple[str, str] | None:
        """``(class name, comment)`` of the first class attribute called ``name``."""
        for node in self.tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and item.target.id == name
                ):
                    return node.name, self.comment_for(item.lineno)
        return None


def source_of(module: str) -> SourceFile:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    return SourceFile(Path(spec.origin), module)


def package_sources(package: str) -> list[SourceFile]:
    """Every module of ``package``, config.py first (its reads carry the settings' comments)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return [source_of(package)] if spec else []
    root = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(root.rglob("*.py"), key=lambda p: (p.name != "config.py", p.relative_to(root).parts))
    modules = [
        ".".join((package, *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for path in files
    ]
    return [SourceFile(path, module) for path, module in zip(files, modules, strict=True)]


# --- the variables a package reads -----------------------------------------------------------------------


@dataclass(frozen=True)
class EnvRead:
    """One variable a service reads. ``<NAME>`` in ``name`` stands for a part computed at run time."""

    name: str
    kind: str
    default: str | None  # None: required, the service refuses to start without it
    minimum: str | None
    setting: str | None  # Class.field the value configures
    meaning: str


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_environ_get(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "environ"
    )


def _placeholder(node: ast.expr) -> str:
    """``<SERVICE>`` for ``service.env_name``: the innermost name, which says what varies."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return f"<{node.id.upper()}>" if isinstance(node, ast.Name) else "<VALUE>"


def _text(node: ast.expr, source: SourceFile) -> str | None:
    """The string ``node`` evaluates to, with placeholders for what only run time knows."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else _placeholder(part.value)  # type: ignore[attr-defined]
            for part in node.values
        )
    if isinstance(node, ast.Name) and isinstance(source.namespace.get(node.id), str):
        return source.namespace[node.id]  # type: ignore[return-value]
    return None


_CONSTANT_EXPRESSION = (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.Load)


def _value(node: ast.expr, source: SourceFile) -> str:
    """A default as the reader sees it: computed when it is arithmetic on constants, else the code."""
    if all(isinstance(n, _CONSTANT_EXPRESSION) for n in ast.walk(node)):
        try:
            value = eval(
                compile(ast.Expression(node), source.module, "eval"), {"__builtins__": {}}, source.namespace
            )
        except NameError:
            value = None
        if isinstance(value, int | float | str):
            return f"`{value}`" if value != "" else "empty"
    # An expression of run-time values: the code, and what the constants in it hold.
    constants = [
        f"`{target} = {source.namespace[target]!r}`"
        for assignment in _constants_in(node, source)
        for target in [
            ast.unparse(assignment.targets[0] if isinstance(assignment, ast.Assign) else assignment.target)
        ]
    ]
    return " ".join([f"`{ast.unparse(node)}`", *(["with", ", ".join(constants)] if constants else [])])


def _setting_name(node: ast.AST) -> str | None:
    """The keyword or variable the read value goes to, within its function."""
    while not isinstance(node, ast.FunctionDef | ast.Module):
        parent = node.parent  # type: ignore[attr-defined]
        if isinstance(parent, ast.keyword):
            return parent.arg
        if (
            isinstance(parent, ast.Assign)
            and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Name)
        ):
            return parent.targets[0].id
        node = parent
    return None


def _constants_in(node: ast.expr | None, source: SourceFile) -> list[ast.Assign | ast.AnnAssign]:
    names = dict.fromkeys(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) if node else {}
    return [assignment for name in names if (assignment := source.constant(name))]


def _meaning(name: str, setting: tuple[str, str] | None, default: ast.expr | None, source: SourceFile) -> str:
    parts = [setting[1]] if setting and setting[1] else []
    parts += [source.comment_for(assignment.lineno) for assignment in _constants_in(default, source)]
    if not any(parts):
        parts = source.mentions(name)
    return " ".join(part for part in parts if part)


def _read(call: ast.Call, source: SourceFile, cat: Catalog) -> EnvRead | None:
    function = _call_name(call)
    keywords = {k.arg: k.value for k in call.keywords}
    if function == "service_url" and call.args:
        callee = _text(call.args[0], source)
        if callee is None:
            name, default = "AIRSCOPE_URL_<NAME>", "`http://127.0.0.1:<catalog port>`"
        else:
            service = cat.service(callee)
            name, default = f"AIRSCOPE_URL_{service.env_name}", f"`http://127.0.0.1:{service.port}`"
        return EnvRead(name, "URL", default, None, None, f"Base URL of {callee or 'each catalog service'}.")
    if function in ENV_READERS or _is_environ_get(call):
        name = _text(call.args[0], source) if call.args else None
        if name is None or not ENV_NAME.fullmatch(name.replace("<", "").replace(">", "")):
            return None
        default_node = call.args[1] if len(call.args) > 1 else keywords.get("default")
        if default_node is not None:
            default = _value(default_node, source)
        else:
            default = "unset" if function == "get" else None
        minimum = _value(keywords["minimum"], source) if "minimum" in keywords else None
        field_name = _setting_name(call)
        field = source.field(field_name) if field_name else None
        return EnvRead(
            name=name,
            kind=ENV_READERS.get(function, "text"),
            default=default,
            minimum=minimum,
            setting=f"{field[0]}.{field_name}" if field else None,
            meaning=_meaning(name, field, default_node, source),
        )
    return None


def env_reads(package: str, cat: Catalog | None = None) -> list[EnvRead]:
    """Every variable ``package`` reads, once each, in the order its config reads them."""
    cat = cat or service_catalog.load()
    found: dict[str, EnvRead] = {}
    for source in package_sources(package):
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Call) and (read := _read(node, source, cat)) and read.name not in found:
                found[read.name] = read
    return list(found.values())


# --- the other variables -------------------------------------------------------------------------------------


def kit_variables() -> list[tuple[str, str]]:
    """``(variable, meaning)`` of every variable the telemetry kit names."""
    source = source_of(kit_settings.__name__)
    return [
        (node.value.value, source.comment_for(node.lineno))
        for node in source.tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and ENV_NAME.fullmatch(node.value.value)
    ]


def local_variable_names() -> list[str]:
    """The values of the ``*_ENV`` constants of local mode's modules."""
    names = []
    for module in LOCAL_MODULES:
        for node in source_of(module).tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id.endswith("_ENV") for t in node.targets)
                and isinstance(node.value, ast.Constant)
            ):
                names.append(node.value.value)
    return list(dict.fromkeys(names))


def local_variables() -> list[tuple[str, str, str]]:
    names = local_variable_names()
    undescribed = sorted(set(names) - set(LOCAL_VARIABLES))
    unused = sorted(set(LOCAL_VARIABLES) - set(names))
    if undescribed or unused:
        raise RuntimeError(
            f"airscope.gen.reference.LOCAL_VARIABLES: describe {undescribed}, drop {unused} "
            "(a *_ENV constant of local mode and the entry must agree)"
        )
    return [(name, *LOCAL_VARIABLES[name]) for name in names]


def constant_comment(module: ModuleType, name: str) -> str:
    source = source_of(module.__name__)
    assignment = source.constant(name)
    assert assignment is not None, f"{module.__name__}.{name}"
    return source.comment_for(assignment.lineno)


# --- rendering -----------------------------------------------------------------------------------------------


def _cell(text: str | None) -> str:
    return (text or "").replace("``", "`").replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _env_table(reads: list[EnvRead]) -> str:
    rows = [
        (
            f"`{read.name}`",
            read.kind,
            "**required**" if read.default is None else read.default,
            f"at least {read.minimum}" if read.minimum else "",
            f"`{read.setting}`" if read.setting else "",
            read.meaning,
        )
        for read in reads
    ]
    return _table(("variable", "type", "default", "allowed", "setting", "meaning"), rows)


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
        "Each service reads these at start-up (`create_app()`) and refuses to start, naming the "
        "variable, when one is required and unset or out of its allowed range. Every service also reads "
        "the [telemetry kit's variables](#the-telemetry-kits-variables). `<NAME>` in a variable stands for "
        "a catalog name in upper case with `_` for `-` (`AIRSCOPE_URL_MCP_SERVER`); local mode and compose "
        "set every `AIRSCOPE_URL_<NAME>`, `DATABASE_URL` and `REDIS_URL` themselves.\n"
    )
    # service_url() loads the catalog, so every service that reaches another reads its variable too.
    yield "\n### Every service\n\n"
    yield _env_table(env_reads(service_catalog.__name__, cat))
    for service in cat.services.values():
        if not service.exists():
            continue
        yield f"\n### {service.name}\n\n"
        reads = env_reads(service.module, cat)
        yield _env_table(reads) if reads else "Reads no variables beyond the kit's.\n"


def _standins_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Configuration of the stand-ins\n\n"
    yield (
        "Local mode runs these in place of the outside SaaS (never in production); "
        "`airscope.standins.faults` is shared by all of them.\n"
    )
    modules = dict.fromkeys([*(e.standin.module for e in cat.external.values()), "airscope.standins.faults"])
    for module in modules:
        if importlib.util.find_spec(module) is None:
            continue
        yield f"\n### `{module}`\n\n"
        yield _env_table(env_reads(module, cat))


def _kit_section() -> Iterator[str]:
    yield "\n## The telemetry kit's variables\n\n"
    doc = (kit_settings.__doc__ or "").strip().split("\n\n", 1)
    yield "Every service reads these through `airscope.telemetry`. " + " ".join(doc[-1].split()) + "\n\n"
    yield _table(("variable", "meaning"), [(f"`{name}`", meaning) for name, meaning in kit_variables()])


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
        for v in compose.variables(cat)
    ]
    yield _table(("variable", "default", "meaning"), rows)


def _local_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Local mode's variables\n\n"
    yield "Read by `airscope` itself (`make up` and the other commands).\n\n"
    rows = [(f"`{name}`", default, meaning) for name, default, meaning in local_variables()]
    rows.append(
        (
            f"`{ports.env_var('<name>')}`",
            "the port in [Ports](#ports)",
            f"Moves one program's port, e.g. `{ports.env_var('postgres')}`, `{ports.env_var('api-gateway')}`.",
        )
    )
    rows.append(("`NO_COLOR`", "unset", "Set: `airscope logs` and `airscope trace` print without colours."))
    yield _table(("variable", "default", "meaning"), rows)


def _ports_section(cat: Catalog) -> Iterator[str]:
    yield "\n## Ports\n\n"
    yield (
        "Local mode listens on 127.0.0.1 only; each port moves with its variable. In compose, services talk "
        f"on the `{settings.NETWORK}` network and only {', '.join(compose.PUBLISHED)} are published "
        f"(on `{compose.BIND_ADDRESS.name}`).\n\n"
    )
    rows = []
    for service in cat.services.values():
        rows.append(
            (
                service.name,
                "service",
                str(service.port),
                str(service.port),
                f"`{ports.env_var(service.name)}`",
            )
        )
    images = {"postgres": compose.POSTGRES_PORT, "redis": compose.REDIS_PORT}
    for infra in cat.infrastructure.values():
        rows.append(
            (infra.name, "store", str(images[infra.name]), str(infra.port), f"`{ports.env_var(infra.name)}`")
        )
    for saas in cat.external.values():
        name = f"standin-{saas.name}"
        rows.append((name, "stand-in", "—", str(saas.standin.port), f"`{ports.env_var(name)}`"))
    local_ports = observability.DEFAULT_PORTS
    for name in dict.fromkeys([*settings.PORTS, *local_ports]):
        local = local_ports.get(name)
        rows.append(
            (
                name,
                "observability",
                str(settings.PORTS.get(name, "—")),
                str(local) if local else "—",
                f"`{ports.env_var(name)}`" if local else "",
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
    yield f"Local mode: under `$AIRSCOPE_HOME` (default: {LOCAL_VARIABLES['AIRSCOPE_HOME'][0]}).\n\n"
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


def _retention_section() -> Iterator[str]:
    yield "\n## Retention\n\n"
    production = [
        ("Prometheus", "time", "PROMETHEUS_RETENTION_TIME"),
        ("Prometheus", "size", "PROMETHEUS_RETENTION_SIZE"),
        ("Mimir", "time", "MIMIR_RETENTION"),
        ("Loki", "time", "LOKI_RETENTION"),
        ("Tempo (Jaeger reads Tempo)", "time", "TRACE_RETENTION"),
    ]
    rows = [
        (
            "compose",
            what,
            limit,
            f"`{getattr(settings, name)}`",
            f"`settings.{name}`",
            constant_comment(settings, name),
        )
        for what, limit, name in production
    ]
    options = compose._logging()["options"]
    rows.append(
        (
            "compose",
            "container logs (json-file, read by Alloy)",
            "size",
            f"`{options['max-file']}` files of `{options['max-size']}`",
            "`compose._logging`",
            "Rotated by Docker so no log fills the disk.",
        )
    )
    time, size = observability.PROMETHEUS_RETENTION
    comment = constant_comment(observability, "PROMETHEUS_RETENTION")
    rows += [
        ("local", "Prometheus", "time", f"`{time}`", "`observability.PROMETHEUS_RETENTION`", comment),
        ("local", "Prometheus", "size", f"`{size}`", "`observability.PROMETHEUS_RETENTION`", comment),
        (
            "local",
            "program logs (`log/`)",
            "file size",
            f"`{supervisor.LOG_MAX_BYTES}`",
            "`supervisor.LOG_MAX_BYTES`",
            constant_comment(supervisor, "LOG_MAX_BYTES"),
        ),
        (
            "local",
            "program logs (`log/`)",
            "size",
            f"`{logs.DEFAULT_MAX_BYTES}`",
            f"`{logs.MAX_BYTES_ENV}`",
            constant_comment(logs, "DEFAULT_MAX_BYTES"),
        ),
        (
            "local",
            "program logs (`log/`)",
            "age",
            f"`{logs.DEFAULT_MAX_AGE}`",
            f"`{logs.MAX_AGE_ENV}`",
            constant_comment(logs, "DEFAULT_MAX_AGE"),
        ),
    ]
    yield _table(("where", "what", "limit", "value", "set by", "why"), rows)
    yield (
        "\nLocal trace files (`traces/`) are never trimmed: delete them while the platform is down to "
        "start afresh.\n"
    )


def render() -> str:
    cat = service_catalog.load()
    sections = (
        _services_section(cat),
        _kit_section(),
        _standins_section(cat),
        _stack_section(cat),
        _local_section(cat),
        _ports_section(cat),
        _data_section(cat),
        _retention_section(),
    )
    return HEADER + "".join(part for section in sections for part in section)


def generate() -> dict[str, str]:
    return {PATH: render()}
