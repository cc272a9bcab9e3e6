"""`airscope up` / `airscope down` end to end: real servers, a stand-in service, a temporary home."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import httpx
import pytest

from airscope.local import LocalError, observability, runner
from airscope.local.process import group_members
from airscope.local.supervisor import Supervisor
from tests.support import moved_ports

pytestmark = pytest.mark.infra

CATALOG = """\
services:
  fake-api:
    port: 7000
    module: tests.local.fake_service_app
    requires: [postgres, redis]
    external: [saas]
  not-yet:
    port: 7001
    module: airscope.services.not_yet
    calls: [fake-api]
external:
  saas:
    url_env: FAKE_SAAS_URL
    key_env: FAKE_SAAS_KEY
    standin: {port: 7090, module: tests.local.fake_service_app, path: /v9, env: {FAKE_SAAS_ACCOUNT: demo}}
infrastructure:
  postgres: {port: 5432}
  redis: {port: 6379}
"""


@pytest.fixture
def home(monkeypatch, reachable_tmp) -> Path:
    """A temporary AIRSCOPE_HOME and catalog, every port moved to a free one by its env var."""
    home = reachable_tmp("home")
    catalog = home / "catalog.yaml"
    catalog.write_text(CATALOG)
    monkeypatch.setenv("AIRSCOPE_HOME", str(home))
    monkeypatch.setenv("AIRSCOPE_CATALOG", str(catalog))
    for variable in (
        "AIRSCOPE_API_KEY",
        "AIRSCOPE_JWT_SECRET",
        "AIRSCOPE_TRACE_DIR",
        "FAKE_SAAS_URL",
        "FAKE_SAAS_ACCOUNT",
    ):
        monkeypatch.delenv(variable, raising=False)
    # The uvicorn child imports the stand-in from the checkout, as this process does.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[2]))
    moved_ports(
        monkeypatch,
        ["postgres", "redis", "fake-api", "not-yet", "standin-saas", *observability.DEFAULT_PORTS],
    )
    yield home
    runner.down()


OBSERVABILITY = set(observability.DEFAULT_PORTS)


def _pids(home: Path) -> dict[str, int]:
    """What runs under the home's supervisord, by program."""
    sup = Supervisor(home)
    if not sup.running():
        return {}
    return {name: pid for name in sup.names() if (pid := sup.pid(name))}


def test_up_is_idempotent_and_down_stops_everything(home, capsys):
    runner.up()
    out = capsys.readouterr().out
    pids = _pids(home)
    assert set(pids) == {"postgres", "redis", "standin-saas", "fake-api", *OBSERVABILITY}
    assert all(pids.values())

    key_file = home / "api-key"
    api_key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"API key: {api_key}" in out
    assert "not in the tree yet: not-yet" in out
    fake_port = int(os.environ["AIRSCOPE_PORT_FAKE_API"])
    assert f"http://127.0.0.1:{fake_port}" in out

    env = httpx.get(f"http://127.0.0.1:{fake_port}/env").json()
    assert env["AIRSCOPE_API_KEY"] == api_key
    assert env["AIRSCOPE_HOME"] == str(home)
    assert env["DATABASE_URL"].startswith("postgresql://fake_api:")
    assert env["DATABASE_URL"].endswith(f"@127.0.0.1:{env['AIRSCOPE_PORT_POSTGRES']}/fake_api")
    assert env["REDIS_URL"] == f"redis://127.0.0.1:{env['AIRSCOPE_PORT_REDIS']}/0"
    assert env["AIRSCOPE_URL_NOT_YET"] == f"http://127.0.0.1:{env['AIRSCOPE_PORT_NOT_YET']}"
    assert env["FAKE_SAAS_URL"] == f"http://127.0.0.1:{os.environ['AIRSCOPE_PORT_STANDIN_SAAS']}/v9"
    assert env["FAKE_SAAS_KEY"] == "local-standin"
    assert env["AIRSCOPE_TRACE_DIR"] == str(home / "traces")
    assert env["AIRSCOPE_DRILLS"] == "1"
    jwt_file = home / "secrets" / "jwt"
    assert env["AIRSCOPE_JWT_SECRET"] == jwt_file.read_text().strip()
    assert stat.S_IMODE(jwt_file.stat().st_mode) == 0o600

    runner.up()
    assert _pids(home) == pids
    assert f"API key: {api_key}" in capsys.readouterr().out

    runner.down()
    stopped = capsys.readouterr().out
    assert "fake-api, standin-saas, redis, postgres" in stopped
    assert stopped.index("prometheus") < stopped.index("fake-api")
    for pid in pids.values():
        assert group_members(pid) == []
    assert not Supervisor(home).running()
    assert (home / "data" / "postgres" / "PG_VERSION").exists()

    runner.down()
    assert "nothing was running" in capsys.readouterr().out


def test_a_saas_url_set_by_the_operator_is_used_instead_of_its_stand_in(home, monkeypatch):
    monkeypatch.setenv("FAKE_SAAS_URL", "https://saas.example/v9")
    monkeypatch.setenv("FAKE_SAAS_KEY", "real-key")
    runner.up()
    assert "standin-saas" not in _pids(home)
    env = httpx.get(f"http://127.0.0.1:{os.environ['AIRSCOPE_PORT_FAKE_API']}/env").json()
    assert env["FAKE_SAAS_URL"] == "https://saas.example/v9"
    assert env["FAKE_SAAS_KEY"] == "real-key"


def test_a_running_stand_in_gives_every_service_its_env_unless_the_operator_set_it(home, monkeypatch):
    not_yet = runner.platform().catalog.services["not-yet"]  # requires nothing: no server is asked

    def env() -> dict[str, str]:
        return runner.platform().service_env(not_yet, "not-yet", 7001)

    # not-yet reaches no SaaS itself, yet what the stand-in's data implies (its account) is for all.
    assert env()["FAKE_SAAS_ACCOUNT"] == "demo"
    monkeypatch.setenv("FAKE_SAAS_ACCOUNT", "mine")
    assert env()["FAKE_SAAS_ACCOUNT"] == "mine"
    monkeypatch.delenv("FAKE_SAAS_ACCOUNT")
    monkeypatch.setenv("FAKE_SAAS_URL", "https://saas.example/v9")  # the real SaaS: no stand-in runs
    assert "FAKE_SAAS_ACCOUNT" not in env()


def test_up_names_a_taken_port_and_its_env_var(home, monkeypatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        monkeypatch.setenv("AIRSCOPE_PORT_POSTGRES", str(port))
        with pytest.raises(LocalError, match=rf"port {port} for postgres .* AIRSCOPE_PORT_POSTGRES="):
            runner.up()
    assert _pids(home) == {}


def test_a_second_up_with_other_ports_names_the_running_ones_and_stops_nothing(home, monkeypatch, free_port):
    runner.up()
    running = _pids(home)
    original = os.environ["AIRSCOPE_PORT_POSTGRES"]
    monkeypatch.setenv("AIRSCOPE_PORT_POSTGRES", str(free_port()))
    with pytest.raises(
        LocalError, match=rf"postgres already runs on port {original} .*AIRSCOPE_PORT_POSTGRES"
    ):
        runner.up()
    assert _pids(home) == running
