"""``airscope up`` and ``airscope down``: the platform and its observability as processes on 127.0.0.1.

``up`` starts supervisord (``supervisor.py``), then, each gated on its own health and in dependency
order: PostgreSQL and Redis, the dev stand-ins of the outside SaaS the services reach, every
instance of every catalog service whose package is in the tree (``uvicorn --factory
<module>:create_app``), the exporters, Alertmanager with its webhook receiver, and Prometheus
(``observability.py``). What already runs and is healthy is left alone. ``down`` stops everything
in reverse, then supervisord. State lives under ``paths.home()``: ``log/<program>.log``,
``data/`` (kept by ``down``), ``traces/``, ``alerts/``, ``prometheus/`` (config, rules, file_sd
targets), ``instances.json`` (the instances of ``airscope scale``), ``api-key`` and ``secrets/``
(mode 0600).

Read: AIRSCOPE_HOME, AIRSCOPE_CATALOG, AIRSCOPE_API_KEY, AIRSCOPE_PORT_<NAME> (each service, each
infrastructure kind, each stand-in and each observability component, e.g. AIRSCOPE_PORT_POSTGRES,
AIRSCOPE_PORT_API_GATEWAY, AIRSCOPE_PORT_STANDIN_LLM, AIRSCOPE_PORT_PROMETHEUS), LOG_LEVEL, and
each outside SaaS' variables (AIRTABLE_API_URL, LLM_BASE_URL...): when its URL variable is set,
the services use that real API and its stand-in is not started.

What every service's environment holds: ``environment.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from airscope import catalog
from airscope.catalog import Catalog, External, Service
from airscope.local import LocalError, environment, logs, observability, paths, ports
from airscope.local.postgres import PostgresServer
from airscope.local.process import Background, wait_until
from airscope.local.redis import RedisServer
from airscope.local.supervisor import Program, Supervisor

SERVICE_READY_TIMEOUT = 60.0


@dataclass
class Platform:
    """What `up` works out before it starts anything: reused by scale, start and status."""

    catalog: Catalog
    home: Path
    api_key: str
    infrastructure: dict[str, PostgresServer | RedisServer]
    service_ports: dict[str, int]
    standins: dict[External, int]
    shared_env: dict[str, str]
    observability_ports: dict[str, int]

    @property
    def present(self) -> list[Service]:
        return [s for s in self.catalog.start_order() if s.exists()]

    def service_env(self, service: Service, program: str, port: int) -> dict[str, str]:
        env = (
            self.shared_env
            | environment.dependency_env(service, self.home, self.infrastructure)
            | environment.external_env(service, self.catalog, self.standins)
        )
        env[environment.INSTANCE_ENV] = program
        env[ports.env_var(service.name)] = str(port)
        return env


def platform() -> Platform:
    cat = catalog.load()
    home = paths.home()
    api_key = environment.api_key(home)
    infrastructure = _infrastructure(cat)
    service_ports = {s.name: ports.port_for(s.name, s.port) for s in cat.services.values()}
    present = [s for s in cat.start_order() if s.exists()]
    return Platform(
        catalog=cat,
        home=home,
        api_key=api_key,
        infrastructure=infrastructure,
        service_ports=service_ports,
        standins=_standins(cat, present),
        shared_env=environment.shared_env(home, api_key, service_ports, infrastructure),
        observability_ports=observability.local_ports(),
    )


def running_supervisor(plat: Platform) -> Supervisor:
    """The supervisord of the running platform, or LocalError saying to start it."""
    sup = Supervisor(plat.home)
    if not sup.running():
        raise LocalError(f"the local platform is not running (home {plat.home}): start it with `make up`")
    return sup


def up() -> None:
    began = time.monotonic()
    plat = platform()
    logs.apply_retention(paths.log_dir())
    sup = Supervisor(plat.home)
    sup.ensure_running()
    _start_infrastructure(sup, plat)
    for saas, port in plat.standins.items():
        name = _standin_name(saas.name)
        argv = _uvicorn(saas.standin.module, port)
        _start(
            sup,
            Program(name, argv, env=plat.shared_env, cwd=plat.home),
            port,
            _http_ready(port, "/_admin/health"),
        )
    instances = load_instances(plat)
    for service in plat.present:
        for program, port in instances[service.name].items():
            start_instance(sup, plat, service, program, port)
    _start_observability(sup, plat, instances)
    save_instances(plat.home, instances)
    _summary(plat, instances, time.monotonic() - began, sup)


def down() -> None:
    home = paths.home()
    sup = Supervisor(home)
    stopped = sup.shutdown(_stop_order(catalog.load(), home)) if sup.running() else []
    stopped += _stop_legacy_pid_files()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    print(f"data kept in {paths.data_dir()}{_postgres_elsewhere()}")


def _postgres_elsewhere() -> str:
    """Where PostgreSQL's data lives when `up` put it outside the home (see ``PostgresServer``)."""
    cluster = paths.data_dir() / "postgres"
    return f" (PostgreSQL's in {cluster.resolve()})" if cluster.is_symlink() else ""


def _stop_order(cat: Catalog, home: Path) -> list[str]:
    programs = [component.program.name for component in reversed(_observability_programs())]
    instances = _read_instances(home)
    for service in reversed(cat.start_order()):
        programs += sorted(instances.get(service.name, {service.name: 0}), reverse=True)
    programs += [_standin_name(name) for name in cat.external]
    programs += list(reversed(list(cat.infrastructure)))
    return programs


def _observability_programs() -> list[observability.Component]:
    """The components by name only (stop order); their binaries need not be installed to stop them."""
    names = list(observability.DEFAULT_PORTS)
    return [observability.Component(Program(name, ()), 0) for name in names]


def _stop_legacy_pid_files() -> list[str]:
    """Processes an earlier airscope started with pid files, before supervisord ran them."""
    stopped = []
    for pid_file in sorted(paths.run_dir().glob("*.pid")):
        if pid_file.name == "supervisord.pid":
            continue
        process = Background(pid_file.stem, pid_file, paths.log_dir() / f"{pid_file.stem}.log")
        if process.stop() is not None:
            stopped.append(pid_file.stem)
    return stopped


# --- starting one program, gated on its health ------------------------------------------------------


@dataclass(frozen=True)
class _Supervised:
    """What wait_until needs of a process: whether it may still come up, and its log."""

    sup: Supervisor
    name: str

    def pid(self) -> int | None:
        # BACKOFF: it exited during start-up; supervisord would retry, but the cause is in the log now.
        state = self.sup.state(self.name)
        return 1 if state in ("RUNNING", "STARTING") else None

    def log_tail(self, lines: int = 20) -> str:
        return self.sup.log_tail(self.name, lines)


def _start(
    sup: Supervisor,
    program: Program,
    port: int,
    probe: Callable[[], object],
    timeout: float = SERVICE_READY_TIMEOUT,
) -> None:
    """Starts ``program`` on ``port`` unless it runs, then waits for ``probe``; one launched here that
    never gets ready is stopped, so it cannot linger holding its port."""
    variable = ports.env_var(program.name.split("@")[0])
    launched = sup.state(program.name) not in ("RUNNING", "STARTING")
    if launched:
        ports.ensure_free(port, program.name, variable)
    else:
        running_on = sup.defined_port(program.name)
        if running_on not in (None, port):
            # It stays up: it may serve a platform started with other settings.
            raise LocalError(
                f"{program.name} already runs on port {running_on} (pid {sup.pid(program.name)}), "
                f"not on {port}: set "
                f"{variable}={running_on} as when it was started, or run `airscope down` first."
            )
    program = dataclasses.replace(program, port=port)
    sup.define(program)
    sup.start(program.name)
    try:
        wait_until(
            f"{program.name} on 127.0.0.1:{port}",
            probe,
            timeout=timeout,
            process=_Supervised(sup, program.name),
        )
    except LocalError:
        if launched:
            sup.stop(program.name)
        raise


def wait_ready(sup: Supervisor, program: str, port: int) -> None:
    """Waits until ``program`` (started by supervisord) passes the health gate `up` uses for it."""
    plat = platform()
    name = program.split("@")[0]
    if name in plat.infrastructure:
        probe = plat.infrastructure[name].probe
    elif name in plat.catalog.services:
        probe = _http_ready(port, "/health/ready")
    elif name in observability.READY_PATHS:
        probe = _http_ready(port, observability.READY_PATHS[name])
    else:
        probe = _http_ready(port, "/_admin/health")  # a stand-in
    wait_until(
        f"{program} on 127.0.0.1:{port}",
        probe,
        timeout=SERVICE_READY_TIMEOUT,
        process=_Supervised(sup, program),
    )


def _http_ready(port: int, path: str) -> Callable[[], None]:
    url = f"http://127.0.0.1:{port}{path}"

    def ready() -> None:
        response = httpx.get(url, timeout=2)
        if response.status_code != 200:
            raise LocalError(f"GET {url} answered {response.status_code}")

    return ready


def _uvicorn(module: str, port: int) -> tuple[str, ...]:
    return (
        sys.executable,
        *("-m", "uvicorn", "--factory", f"{module}:create_app"),
        *("--host", "127.0.0.1", "--port", str(port)),
    )


def _start_infrastructure(sup: Supervisor, plat: Platform) -> None:
    for name, server in plat.infrastructure.items():
        if isinstance(server, PostgresServer):
            if sup.state(name) not in ("RUNNING", "STARTING"):
                ports.ensure_free(server.port, name, ports.env_var(name))
                server.prepare()
            # Fast shutdown (SIGINT): sessions end, a checkpoint is written.
            program = Program(
                name,
                tuple(server.argv()),
                cwd=server.data_dir,
                user=server.user,
                stop_signal="INT",
                stop_wait=30,
            )
        else:
            server.dir.mkdir(parents=True, exist_ok=True)
            program = Program(name, tuple(server.argv()), cwd=server.dir)
        _start(sup, program, server.port, server.probe, timeout=server.ready_timeout)


def start_instance(sup: Supervisor, plat: Platform, service: Service, program: str, port: int) -> None:
    env = plat.service_env(service, program, port)
    _start(
        sup,
        Program(program, _uvicorn(service.module, port), env=env, cwd=plat.home),
        port,
        _http_ready(port, "/health/ready"),
    )


def _start_observability(sup: Supervisor, plat: Platform, instances: dict[str, dict[str, int]]) -> None:
    at = plat.observability_ports
    observability.write_configs(plat.catalog, plat.home, at)
    observability.write_targets(plat.home, instances, at)
    postgres = plat.infrastructure["postgres"].port if "postgres" in plat.infrastructure else 0
    redis = plat.infrastructure["redis"].port if "redis" in plat.infrastructure else 0
    for component in observability.components(plat.home, at, postgres, redis):
        if component.program.name == "postgres-exporter" and not postgres:
            continue
        if component.program.name == "redis-exporter" and not redis:
            continue
        _start(sup, component.program, component.port, _http_ready(component.port, component.ready_path))


def _infrastructure(cat: Catalog) -> dict[str, PostgresServer | RedisServer]:
    """The catalog's infrastructure in start order (PostgreSQL before Redis)."""
    where = {"run_dir": paths.run_dir(), "log_dir": paths.log_dir()}
    servers: dict[str, PostgresServer | RedisServer] = {}
    if "postgres" in cat.infrastructure:
        port = ports.port_for("postgres", cat.infrastructure["postgres"].port)
        servers["postgres"] = PostgresServer(paths.data_dir() / "postgres", port, relocate=True, **where)
    if "redis" in cat.infrastructure:
        port = ports.port_for("redis", cat.infrastructure["redis"].port)
        servers["redis"] = RedisServer(paths.data_dir() / "redis", port, **where)
    return servers


# --- instances (airscope scale) ---------------------------------------------------------------------


def _instances_file(home: Path) -> Path:
    return home / "instances.json"


def _read_instances(home: Path) -> dict[str, dict[str, int]]:
    try:
        return json.loads(_instances_file(home).read_text())
    except (OSError, ValueError):
        return {}


def load_instances(plat: Platform) -> dict[str, dict[str, int]]:
    """Each present service's instances (program -> port): the first on the service's port, the
    others where `airscope scale` put them."""
    kept = _read_instances(plat.home)
    instances = {}
    for service in plat.present:
        members = {p: port for p, port in kept.get(service.name, {}).items() if p != service.name}
        instances[service.name] = {service.name: plat.service_ports[service.name], **members}
    return instances


def save_instances(home: Path, instances: dict[str, dict[str, int]]) -> None:
    path = _instances_file(home)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(instances, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


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


def _summary(plat: Platform, instances: dict[str, dict[str, int]], elapsed: float, sup: Supervisor) -> None:
    rows = [
        (name, server.dsn() if isinstance(server, PostgresServer) else server.url)
        for name, server in plat.infrastructure.items()
    ]
    rows += [(_standin_name(saas.name), f"http://127.0.0.1:{port}") for saas, port in plat.standins.items()]
    for service in plat.present:
        rows += [(program, f"http://127.0.0.1:{port}") for program, port in instances[service.name].items()]
    at = plat.observability_ports
    rows += [
        ("prometheus", f"http://127.0.0.1:{at['prometheus']}"),
        ("alertmanager", f"http://127.0.0.1:{at['alertmanager']}"),
        ("console", f"http://127.0.0.1:{at['console']}"),
    ]
    for name, url in rows:
        print(f"{name:<20} {url}")
    missing = [s.name for s in plat.catalog.start_order() if not s.exists()]
    if missing:
        print(f"not in the tree yet: {', '.join(missing)}")
    print(
        f"data: {paths.data_dir()}{_postgres_elsewhere()}  logs: {paths.log_dir()}  traces: {paths.trace_dir()}"
    )
    rss, count = sup.memory()
    print(f"all healthy in {elapsed:.1f}s; memory: {rss / 2**20:.0f} MiB (PSS) in {count} processes")
    print(f"API key: {plat.api_key}")
