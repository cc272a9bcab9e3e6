"""``airscope up`` and ``airscope down``: the platform as background processes on 127.0.0.1.

``up`` starts PostgreSQL, Redis, the dev stand-ins of the outside SaaS the services reach, then
every catalog service whose package is in the tree (``uvicorn --factory <module>:create_app``),
each gated on its health; what already runs and is healthy is left alone. ``down`` stops them in
reverse. State lives under ``paths.home()``: ``log/<name>.log``, ``run/<name>.pid``, ``data/``
(kept by ``down``), ``traces/<service>.jsonl``, ``api-key`` and ``secrets/`` (mode 0600).

Read: AIRSCOPE_HOME, AIRSCOPE_CATALOG, AIRSCOPE_API_KEY, AIRSCOPE_PORT_<NAME> (each service, each
infrastructure kind and each stand-in, e.g. AIRSCOPE_PORT_POSTGRES, AIRSCOPE_PORT_API_GATEWAY,
AIRSCOPE_PORT_STANDIN_LLM), LOG_LEVEL, and each outside SaaS' variables (AIRTABLE_API_URL,
LLM_BASE_URL...): when its URL variable is set, the services use that real API and its stand-in
is not started.

Set for every service, beside the runner's own environment:
- AIRSCOPE_HOME, AIRSCOPE_API_KEY (the key clients send as X-API-Key), AIRSCOPE_JWT_SECRET (signs
  and verifies login tokens; kept in ``secrets/jwt``), LOG_LEVEL (default info),
  AIRSCOPE_TRACE_DIR (``traces/``: spans as OTLP JSON lines);
- AIRSCOPE_PORT_<NAME> of every service and infrastructure kind, and
  AIRSCOPE_URL_<NAME>=http://127.0.0.1:<port> of every service (its own included);
- DATABASE_URL when it requires postgres: its own role and database, both named after it
  (``llm-orchestrator`` -> ``llm_orchestrator``), password kept in ``secrets/postgres-<name>``;
- REDIS_URL (``redis://127.0.0.1:<port>/0``) when it requires redis;
- for each outside SaaS it reaches, the URL and key variables the catalog names, pointing at the
  stand-in (key ``local-standin``) unless they were set.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from pathlib import Path

import httpx

from airscope import catalog
from airscope.catalog import Catalog, External, Service
from airscope.local import LocalError, paths, ports
from airscope.local.postgres import PostgresServer
from airscope.local.process import Background, start_gated, wait_until
from airscope.local.redis import RedisServer

API_KEY_ENV = "AIRSCOPE_API_KEY"
JWT_SECRET_ENV = "AIRSCOPE_JWT_SECRET"
STANDIN_KEY = "local-standin"
SERVICE_READY_TIMEOUT = 60.0


def up() -> None:
    cat = catalog.load()
    home = paths.home()
    api_key = _api_key(home)
    infrastructure = _infrastructure(cat)
    for name, server in infrastructure.items():
        if not server.is_running():
            ports.ensure_free(server.port, name, ports.env_var(name))
        server.start()

    service_ports = {s.name: ports.port_for(s.name, s.port) for s in cat.services.values()}
    shared_env = _shared_env(home, api_key, service_ports, infrastructure)
    present = [s for s in cat.start_order() if s.exists()]
    standins = _standins(cat, present)
    for saas, port in standins.items():
        _start_app(_standin_name(saas.name), saas.standin.module, port, shared_env, home, "/_admin/health")
    for service in present:
        env = (
            shared_env
            | _dependency_env(service, home, infrastructure)
            | _external_env(service, cat, standins)
        )
        _start_app(service.name, service.module, service_ports[service.name], env, home, "/health/ready")

    _summary(cat, present, service_ports, infrastructure, standins, api_key)


def down() -> None:
    cat = catalog.load()
    run = paths.run_dir()
    order = [s.name for s in reversed(cat.start_order())]
    # Services of another catalog (AIRSCOPE_CATALOG changed since `up`) still have pid files.
    order += sorted(
        p.stem for p in run.glob("*.pid") if p.stem not in order and p.stem not in cat.infrastructure
    )
    order += [_standin_name(name) for name in cat.external if _standin_name(name) not in order]
    stopped = [name for name in order if _service_process(name).stop() is not None]
    for name, server in reversed(_infrastructure(cat).items()):
        if server.stop() is not None:
            stopped.append(name)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    print(f"data kept in {paths.data_dir()}")


def _infrastructure(cat: Catalog) -> dict[str, PostgresServer | RedisServer]:
    """The catalog's infrastructure in start order (PostgreSQL before Redis)."""
    kinds = {"postgres": PostgresServer, "redis": RedisServer}
    return {
        name: kinds[name](
            paths.data_dir() / name,
            ports.port_for(name, cat.infrastructure[name].port),
            run_dir=paths.run_dir(),
            log_dir=paths.log_dir(),
        )
        for name in kinds
        if name in cat.infrastructure
    }


def _standin_name(saas: str) -> str:
    return f"standin-{saas}"


def _standins(cat: Catalog, present: list[Service]) -> dict[External, int]:
    """The stand-ins to run, with their ports: those of the outside SaaS that a present service
    reaches and whose URL variable the operator did not point at the real API."""
    wanted = {name for service in present for name in service.external}
    return {
        saas: ports.port_for(_standin_name(saas.name), saas.standin.port)
        for name, saas in cat.external.items()
        if name in wanted and not os.environ.get(saas.url_env) and _module_exists(saas.standin.module)
    }


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _external_env(service: Service, cat: Catalog, standins: dict[External, int]) -> dict[str, str]:
    env = {}
    for name in service.external:
        saas = cat.external[name]
        if saas in standins:
            env[saas.url_env] = f"http://127.0.0.1:{standins[saas]}{saas.standin.path}"
            env[saas.key_env] = os.environ.get(saas.key_env) or STANDIN_KEY
    return env


def _api_key(home: Path) -> str:
    return os.environ.get(API_KEY_ENV) or _kept_secret(home / "api-key")


def _kept_secret(path: Path) -> str:
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


def _shared_env(
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
            JWT_SECRET_ENV: os.environ.get(JWT_SECRET_ENV) or _kept_secret(home / "secrets" / "jwt"),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "info"),
            "AIRSCOPE_TRACE_DIR": os.environ.get("AIRSCOPE_TRACE_DIR") or str(paths.trace_dir()),
        }
    )
    for name, server in infrastructure.items():
        env[ports.env_var(name)] = str(server.port)
    for name, port in service_ports.items():
        env[ports.env_var(name)] = str(port)
        env["AIRSCOPE_URL_" + name.upper().replace("-", "_")] = f"http://127.0.0.1:{port}"
    return env


def _dependency_env(
    service: Service, home: Path, infrastructure: dict[str, PostgresServer | RedisServer]
) -> dict[str, str]:
    env = {}
    if "postgres" in service.requires:
        postgres = infrastructure["postgres"]
        database = service.name.replace("-", "_")
        password = _kept_secret(home / "secrets" / f"postgres-{database}")
        postgres.ensure_database(database, password)
        env["DATABASE_URL"] = postgres.dsn(database, database, password)
    if "redis" in service.requires:
        env["REDIS_URL"] = infrastructure["redis"].url
    return env


def _service_process(name: str) -> Background:
    return Background(name, paths.run_dir() / f"{name}.pid", paths.log_dir() / f"{name}.log")


def _start_app(name: str, module: str, port: int, env: dict[str, str], home: Path, ready_path: str) -> None:
    """Runs ``module:create_app`` under uvicorn, gated on ``ready_path`` answering 200."""
    process = _service_process(name)

    def launch() -> None:
        ports.ensure_free(port, name, ports.env_var(name))
        process.start(
            [
                sys.executable,
                *("-m", "uvicorn", "--factory", f"{module}:create_app"),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            env=env,
            cwd=home,
            port=port,
        )

    url = f"http://127.0.0.1:{port}{ready_path}"

    def ready() -> None:
        response = httpx.get(url, timeout=2)
        if response.status_code != 200:
            raise LocalError(f"GET {url} answered {response.status_code}")

    def wait_ready() -> None:
        wait_until(f"{name} on 127.0.0.1:{port}", ready, timeout=SERVICE_READY_TIMEOUT, process=process)

    start_gated(process, port=port, launch=launch, wait_ready=wait_ready, stop=process.stop)


def _summary(
    cat: Catalog,
    present: list[Service],
    service_ports: dict[str, int],
    infrastructure: dict[str, PostgresServer | RedisServer],
    standins: dict[External, int],
    api_key: str,
) -> None:
    rows = [
        (name, server.dsn() if isinstance(server, PostgresServer) else server.url)
        for name, server in infrastructure.items()
    ]
    rows += [(_standin_name(saas.name), f"http://127.0.0.1:{port}") for saas, port in standins.items()]
    rows += [(s.name, f"http://127.0.0.1:{service_ports[s.name]}") for s in present]
    for name, url in rows:
        print(f"{name:<20} {url}")
    missing = [s.name for s in cat.start_order() if not s.exists()]
    if missing:
        print(f"not in the tree yet: {', '.join(missing)}")
    print(f"data: {paths.data_dir()}  logs: {paths.log_dir()}  traces: {paths.trace_dir()}")
    print(f"API key: {api_key}")
