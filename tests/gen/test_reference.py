"""docs/reference.md: what the services read, found by running their config, is all in it; a variable
added to a config module appears with its default, minimum and comment; the local-mode and retention
tables follow the code."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

from airscope import catalog
from airscope.gen import reference
from airscope.stack import compose
from airscope.telemetry import Settings

ROOT = Path(__file__).resolve().parents[2]
# What a required variable must hold for from_env() to get past it.
REQUIRED_VALUES = {
    "DATABASE_URL": "postgresql://user:secret@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "AIRTABLE_API_KEY": "key",
    "LLM_API_KEY": "key",
    "AIRSCOPE_JWT_SECRET": "secret",
}


class RecordingEnviron(dict):
    """An environment that remembers every name asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: list[str] = []

    def get(self, name, default=None):
        self.asked.append(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.asked.append(name)
        return super().__getitem__(name)


def variables_read(config_module: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    environ = RecordingEnviron(REQUIRED_VALUES)
    monkeypatch.setattr(os, "environ", environ)
    importlib.import_module(config_module).Config.from_env()
    return set(environ.asked)


def documented_pattern(section: str) -> re.Pattern[str]:
    """Matches any variable named in ``section``'s table, `<NAME>` parts standing for upper-case words."""
    names = re.findall(r"^\| `([A-Z<][A-Z0-9_<>]*)` \|", section, re.MULTILINE)
    assert names, "no variables in the section"
    return re.compile(
        "|".join(re.sub(r"<[A-Z_]+>", "[A-Z0-9_]+", re.escape(n).replace("\\", "")) for n in names)
    )


@pytest.fixture(scope="module")
def text() -> str:
    return reference.render()


def section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


@pytest.mark.parametrize("service", [s for s in catalog.load().services.values() if s.exists()], ids=str)
def test_every_variable_a_service_reads_is_in_its_section(service: catalog.Service, text: str, monkeypatch):
    read = variables_read(f"{service.module}.config", monkeypatch)
    assert read, "the recording environment saw nothing"
    documented = documented_pattern(section(text, f"### {service.name}") + section(text, "### Every service"))
    assert sorted(name for name in read if not documented.fullmatch(name)) == []


def test_every_variable_the_kit_reads_is_in_its_section(text: str):
    environ = RecordingEnviron({})
    Settings.from_env(environ)
    documented = documented_pattern(section(text, "## The telemetry kit's variables"))
    assert environ.asked and sorted(n for n in set(environ.asked) if not documented.fullmatch(n)) == []


def test_a_variable_added_to_a_config_module_shows_up(tmp_path, monkeypatch):
    package = tmp_path / "fake_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text(
        "from dataclasses import dataclass\n"
        "from airscope.services.common import env_int, env_str\n"
        "DEFAULT_BATCH = 4 * 8\n"
        "@dataclass(frozen=True)\n"
        "class Config:\n"
        "    # Rows sent to the warehouse in one request.\n"
        "    batch_size: int\n"
        "    token: str\n"
        "    @classmethod\n"
        "    def from_env(cls):\n"
        "        return cls(\n"
        "            batch_size=env_int('FAKE_BATCH_SIZE', DEFAULT_BATCH, minimum=2),\n"
        "            token=env_str('FAKE_TOKEN'),\n"
        "        )\n"
    )
    (tmp_path / "catalog.yaml").write_text("services:\n  fake: {port: 7100, module: fake_service}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(catalog.CATALOG_ENV, str(tmp_path / "catalog.yaml"))

    text = reference.render()
    assert "### fake\n" in text
    fake = section(text, "### fake")
    assert (
        "| `FAKE_BATCH_SIZE` | integer | `32` | at least `2` | `Config.batch_size` "
        "| Rows sent to the warehouse in one request. |" in fake
    )
    assert "| `FAKE_TOKEN` | text | **required** |  | `Config.token` |  |" in fake


def test_a_run_time_name_and_default_read_as_a_placeholder_and_the_code():
    gateway = {read.name: read for read in reference.env_reads("airscope.services.api_gateway")}
    timeout = gateway["GATEWAY_TIMEOUT_<SERVICE>_SECONDS"]
    assert "DEFAULT_TIMEOUT = 10.0" in timeout.default and "'llm-orchestrator': 60.0" in timeout.default
    assert "tens of seconds" in timeout.meaning  # the comment above DEFAULT_TIMEOUTS


def test_a_local_variable_without_words_stops_gen(monkeypatch):
    described = dict(reference.LOCAL_VARIABLES)
    del described["AIRSCOPE_LOG_MAX_AGE"]
    monkeypatch.setattr(reference, "LOCAL_VARIABLES", described)
    with pytest.raises(RuntimeError, match="AIRSCOPE_LOG_MAX_AGE"):
        reference.render()


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


def test_the_local_places_are_named_in_local_modes_code():
    code = "".join(path.read_text() for path in (ROOT / "src" / "airscope" / "local").rglob("*.py"))
    for place, _ in reference.LOCAL_PLACES:
        for part in place.strip("/").split("/"):
            assert f'"{part}"' in code or f"'{part}'" in code, place
