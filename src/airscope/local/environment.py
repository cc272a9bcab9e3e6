"""The environment ``airscope up`` gives each service, and the secrets it keeps for them.

Every service gets, beside the runner's own environment:
- AIRSCOPE_HOME, AIRSCOPE_API_KEY (the key clients send as X-API-Key), AIRSCOPE_JWT_SECRET (signs
  and verifies login tokens; kept in ``secrets/jwt``), LOG_LEVEL (default info),
  AIRSCOPE_TRACE_DIR (``traces/``: spans as OTLP JSON lines), AIRSCOPE_INSTANCE_ID (the program
  name: ``api-gateway``, ``api-gateway@2``), AIRSCOPE_DRILLS=1 (the drill switches),
  AIRSCOPE_PROFILE_SWITCH=1 (the memory profiling switch of `airscope profile --memory`);
- AIRSCOPE_PORT_<NAME> of every service and infrastructure kind, and
  AIRSCOPE_URL_<NAME>=http://127.0.0.1:<port> of every service (its own included);
- DATABASE_URL when it requires postgres: its own role and database, both named after it
  (``llm-orchestrator`` -> ``llm_orchestrator``), password kept in ``secrets/postgres-<name>``;
- REDIS_URL (``redis://127.0.0.1:<port>/0``) when it requires redis;
- for each outside SaaS it reaches, the URL and key variables the catalog names, pointing at the
  stand-in (key ``local-standin``) unless they were set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from airscope.catalog import Catalog, External, Service
from airscope.local import paths, ports
from airscope.local.api_key import API_KEY_ENV, API_KEY_FILE
from airscope.local.postgres import PostgresServer
from airscope.local.redis import RedisServer
from airscope.local.settings import JWT_SECRET_ENV

INSTANCE_ENV = "AIRSCOPE_INSTANCE_ID"
DRILLS_ENV = "AIRSCOPE_DRILLS"
PROFILE_SWITCH_ENV = "AIRSCOPE_PROFILE_SWITCH"
STANDIN_KEY = "local-standin"


def external_env(service: Service, cat: Catalog, standins: dict[External, int]) -> dict[str, str]:
    # What a running stand-in's data implies (the demo base's id) is for every service.
    env = {
        variable: os.environ.get(variable) or value
        for saas in standins
        for variable, value in saas.standin.env
    }
    for name in service.external:
        saas = cat.external[name]
        if saas in standins:
            env[saas.url_env] = f"http://127.0.0.1:{standins[saas]}{saas.standin.path}"
            env[saas.key_env] = os.environ.get(saas.key_env) or STANDIN_KEY
    return env


def api_key(home: Path) -> str:
    return os.environ.get(API_KEY_ENV) or kept_secret(home / API_KEY_FILE)


def kept_secret(path: Path) -> str:
    """The secret in ``path``, generated on first use; the file is the owner's only (0600)."""
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value


def shared_env(
    home: Path,
    api_key: str,
    service_ports: dict[str, int],
    infrastructure: dict[str, PostgresServer | RedisServer],
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            paths.HOME_ENV: str(home),
            API_KEY_ENV: api_key,
            JWT_SECRET_ENV: os.environ.get(JWT_SECRET_ENV) or kept_secret(home / "secrets" / "jwt"),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "info"),
            "AIRSCOPE_TRACE_DIR": os.environ.get("AIRSCOPE_TRACE_DIR") or str(paths.trace_dir()),
            DRILLS_ENV: "1",  # `airscope drill memory` needs the services' drill switches
            PROFILE_SWITCH_ENV: "1",  # and `airscope profile --memory` the profiling switch
            # Every local client (browser, `airscope load`, the drills) reaches the gateway from
            # 127.0.0.1, so the per-client failed-login limit would count them all as one caller and
            # turn the load's deliberate wrong passwords into 429s within minutes.
            "PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT": os.environ.get(
                "PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT", "100000"
            ),
        }
    )
    for name, server in infrastructure.items():
        env[ports.env_var(name)] = str(server.port)
    for name, port in service_ports.items():
        env[ports.env_var(name)] = str(port)
        env["AIRSCOPE_URL_" + name.upper().replace("-", "_")] = f"http://127.0.0.1:{port}"
    return env


def dependency_env(
    service: Service, home: Path, infrastructure: dict[str, PostgresServer | RedisServer]
) -> dict[str, str]:
    env = {}
    if "postgres" in service.requires:
        postgres = infrastructure["postgres"]
        database = service.name.replace("-", "_")
        password = kept_secret(home / "secrets" / f"postgres-{database}")
        postgres.ensure_database(database, password)
        env["DATABASE_URL"] = postgres.dsn(database, database, password)
    if "redis" in service.requires:
        env["REDIS_URL"] = infrastructure["redis"].url
    return env
