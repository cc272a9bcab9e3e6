"""docs/reference.md: every variable the code reads is documented by a settings model and every
documented one is read; a field added to a service's model appears with its type, default, range and
description; the ports, volumes and units sections follow the code."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from airscope import catalog, units
from airscope.gen import reference
from airscope.stack import compose

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "airscope"
# Where the reference itself names the variables: not a reader.
GENERATORS = PACKAGE / "gen"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if GENERATORS not in path.parents:
            yield path, ast.parse(path.read_text())


def namespace(path: Path, tree: ast.Module) -> object:
    """The module, imported; a script run by a tool (alembic's env.py) only by its string constants."""
    try:
        return importlib.import_module(module_name(path))
    except Exception:
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        return type("Constants", (), constants)


def _resolve(node: ast.expr, module: object) -> str | None:
    """The string ``node`` names: a literal, or a constant of the module (``HOME_ENV``, ``paths.HOME_ENV``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name | ast.Attribute):
        value: object = module
        for part in ast.unparse(node).split("."):
            value = getattr(value, part, None)
        return value if isinstance(value, str) else None
    return None


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _read_names(node: ast.AST) -> list[ast.expr]:
    """The expressions naming a variable this node reads: ``os.environ.get(X)``, ``os.getenv(X)``,
    ``os.environ[X]``, ``X in os.environ``, ``Field(validation_alias=X)``."""
    call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
    if call and ((node.func.attr == "get" and _is_environ(node.func.value)) or node.func.attr == "getenv"):  # type: ignore[union-attr]
        return [node.args[0]]  # type: ignore[union-attr]
    if isinstance(node, ast.Call):
        return [k.value for k in node.keywords if k.arg == "validation_alias"]
    if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
        return [node.slice]
    if isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
        return [node.left]
    return []


@pytest.fixture(scope="module")
def read_in_src() -> set[str]:
    """Every variable src/ reads whose name the code spells out (names computed at run time are not)."""
    names = set()
    for path, tree in sources():
        module = namespace(path, tree)
        for node in ast.walk(tree):
            names.update(name for expr in _read_names(node) if (name := _resolve(expr, module)))
    return names


@pytest.fixture(scope="module")
def documented() -> dict[str, re.Pattern[str]]:
    """Every variable the reference's models document, ``<NAME>`` parts matching any upper-case word."""
    names = [
        v.name for model in reference.documented_models(catalog.load()) for v in reference.variables(model)
    ]
    return {name: re.compile(re.sub(r"<[A-Z_]+>", "[A-Z0-9_]+", re.escape(name))) for name in names}


def test_every_variable_read_in_src_is_documented_by_a_model(read_in_src, documented):
    assert {
        "AIRSCOPE_HOME",
        "LOG_LEVEL",
        "DATABASE_URL",
        "AIRSCOPE_URL_<NAME>",
    } <= read_in_src  # the scan sees
    undocumented = [
        name
        for name in read_in_src
        if not any(p.fullmatch(name) for p in documented.values()) and name not in documented
    ]
    assert sorted(undocumented) == []


def test_every_documented_variable_is_read(read_in_src):
    """A variable is read when its model is used by the code (built, or extended), or when the code
    reads its name directly; a model nothing uses documents variables nobody reads."""
    used = set()
    fragments = set()  # "AIRSCOPE_PORT_" + name: a family of variables named at run time
    for _, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
                used.add(node.id if isinstance(node, ast.Name) else node.attr)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("_"):
                fragments.add(node.value)
    unread = [
        f"{model.__name__}: {variable.name}"
        for model in reference.documented_models(catalog.load())
        if model.__name__ not in used
        for variable in reference.variables(model)
        if variable.name not in read_in_src and variable.name.split("<")[0] not in fragments
    ]
    assert unread == []


@pytest.fixture(scope="module")
def text() -> str:
    return reference.render()


def section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


@pytest.mark.parametrize("service", [s for s in catalog.load().services.values() if s.exists()], ids=str)
def test_each_service_section_shows_its_models(service: catalog.Service, text: str):
    models = reference.models_in(f"{service.module}.config")
    assert models, f"{service.module}.config defines no settings model"
    shown = section(text, f"### {service.name}")
    for model in models:
        for variable in reference.variables(model):
            assert f"| `{variable.name}` |" in shown


def test_a_field_added_to_a_config_model_shows_up(tmp_path, monkeypatch):
    package = tmp_path / "fake_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text(
        "from pydantic import Field\n"
        "from airscope.services.common.config import EnvSettings\n"
        "class Config(EnvSettings):\n"
        "    batch_size: int = Field(32, ge=2, validation_alias='FAKE_BATCH_SIZE',\n"
        "                            description='Rows sent to the warehouse in one request.')\n"
        "    token: str = Field(validation_alias='FAKE_TOKEN', description='The warehouse token.')\n"
    )
    (tmp_path / "catalog.yaml").write_text("services:\n  fake: {port: 7100, module: fake_service}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(catalog.CATALOG_ENV, str(tmp_path / "catalog.yaml"))

    fake = section(reference.render(), "### fake")
    assert (
        "| `FAKE_BATCH_SIZE` | integer | `32` | at least `2` | `Config.batch_size` "
        "| Rows sent to the warehouse in one request. |" in fake
    )
    assert "| `FAKE_TOKEN` | text | **required** |  | `Config.token` | The warehouse token. |" in fake


def test_variables_named_by_pattern_and_catalog_defaults_are_shown(text: str):
    gateway = section(text, "### api-gateway")
    assert "| `GATEWAY_TIMEOUT_<SERVICE>_SECONDS` | number | unset | at least `0.001` |" in gateway
    assert "60 s for llm-orchestrator" in gateway
    saga = section(text, "### saga-orchestrator")
    port = catalog.load().service("platform-services").port
    assert f"| `AIRSCOPE_URL_PLATFORM_SERVICES` | URL | `http://127.0.0.1:{port}` |" in saga


def test_durations_and_sizes_are_described_once_with_the_changelog(text: str):
    assert units.DURATION_GRAMMAR in section(text, "## Durations and sizes")
    assert units.SIZE_GRAMMAR in section(text, "## Durations and sizes")
    changelog = section(text, "## Changelog")
    assert "bare number means seconds" in changelog and "--min-duration" in changelog


def test_every_catalog_port_is_in_the_ports_table(text: str):
    ports = section(text, "## Ports")
    current = catalog.load()
    programs = [
        *((s.name, s.port) for s in current.services.values()),
        *((i.name, i.port) for i in current.infrastructure.values()),
        *((f"standin-{e.name}", e.standin.port) for e in current.external.values()),
    ]
    for name, port in programs:
        assert re.search(rf"^\| {re.escape(name)} \| [a-z-]+ \| [^|]+ \| {port} \|", ports, re.MULTILINE), (
            name
        )


def test_every_compose_volume_is_a_data_location(text: str):
    data = section(text, "## Data locations")
    for volume in compose.compose(catalog.load())["volumes"]:
        assert f"| `{volume}` |" in data
