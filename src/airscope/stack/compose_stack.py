"""The stores and the observability stack of deploy/docker-compose.yml, one container each, and
PostgreSQL's init script beside the compose file (a role and a database for each service that
requires it).
"""

from __future__ import annotations

from importlib import resources
from pathlib import PurePosixPath

from airscope.catalog import Catalog
from airscope.stack import (
    _yaml,
    alertmanager,
    alloy,
    blackbox,
    jaeger,
    loki,
    mimir,
    prometheus,
    pyroscope,
    settings,
    tempo,
)
from airscope.stack.compose_env import (
    FRONTEND_ORIGIN,
    GRAFANA_ADMIN_PASSWORD,
    GRAFANA_ADMIN_USER,
    GRAFANA_COOKIE_SECURE,
    MONITORING_PASSWORD,
    MONITORING_ROLE,
    POSTGRES_PASSWORD,
    database,
    database_password,
    secrets,
)
from airscope.stack.compose_parts import (
    IMAGE_USERS,
    TMP,
    after,
    bind,
    config_file,
    confined,
    container,
    from_deploy,
    healthcheck,
    http_probe,
    on_loopback,
    published,
)
from airscope.stack.grafana import dashboards, datasources

POSTGRES_INIT_PATH = "deploy/postgres/init-databases.sh"
# Grafana reads every provisioning file under the folder that holds datasources/ and dashboards/.
GRAFANA_PROVISIONING_DIR = str(PurePosixPath(datasources.PATH).parents[1])
POSTGRES_PORT = 5432  # the images' own ports (the catalog's are local mode's, which can move)
REDIS_PORT = 6379
DOCKER_SOCKET = alloy.DOCKER_HOST.removeprefix("unix://")

# The init script's fixed part (what it is for, and the shell functions each step calls); the
# generator puts the header before it and a line per role and database after it.
INIT_SCRIPT = "init-databases.sh"


def _postgres(catalog: Catalog) -> dict:
    passwords = [database_password(s) for s in catalog.services.values() if "postgres" in s.requires]
    init = bind(from_deploy(POSTGRES_INIT_PATH), "/docker-entrypoint-initdb.d/init-databases.sh")
    return container(
        settings.IMAGES["postgres"],
        # /run/postgresql: the server's socket and lock file (the init scripts' server listens there).
        **confined(IMAGE_USERS["postgres"], writable=(TMP, "/run/postgresql:mode=1777,size=1m")),
        environment={v.name: v.ref() for v in (POSTGRES_PASSWORD, *passwords, MONITORING_PASSWORD)},
        volumes=["postgres-data:/var/lib/postgresql/data", init],
        # Over TCP: while the init script runs, the image's temporary server listens on the socket only,
        # so the services wait until their databases exist.
        healthcheck=healthcheck("CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"),
    )


def _redis() -> dict:
    return container(
        settings.IMAGES["redis"],
        **confined(IMAGE_USERS["redis"]),
        command=["redis-server", "--appendonly", "yes"],  # queued uploads survive a restart
        volumes=["redis-data:/data"],
        healthcheck=healthcheck("CMD-SHELL", "redis-cli ping | grep -q PONG"),
    )


def _prometheus() -> dict:
    directory = from_deploy(str(PurePosixPath(prometheus.COMPOSE_PATH).parent))
    config = f"/etc/prometheus/{PurePosixPath(prometheus.COMPOSE_PATH).name}"
    return container(
        settings.IMAGES["prometheus"],
        # Root: docker_sd reads the Docker API, whose socket only root and the host's docker group (its
        # id differs from host to host) may open; whoever opens it is root on the host anyway. Its
        # capabilities stay: root writes the data volume the image's nobody owns (CAP_DAC_OVERRIDE).
        **confined("root", capabilities=True),
        command=[
            f"--config.file={config}",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={settings.PROMETHEUS_RETENTION_TIME}",
            f"--storage.tsdb.retention.size={settings.PROMETHEUS_RETENTION_SIZE}",
            "--web.enable-remote-write-receiver",  # Tempo's metrics generator writes span metrics here
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
        ],
        volumes=[
            bind(directory, "/etc/prometheus"),  # prometheus.yml and rules/ beside it
            "prometheus-data:/prometheus",
            bind(DOCKER_SOCKET, DOCKER_SOCKET),
        ],
        depends_on=after("alertmanager", "mimir"),
        healthcheck=http_probe(settings.PORTS["prometheus"], "/-/ready"),
    )


def _alertmanager(catalog: Catalog) -> dict:
    mount, config = config_file(alertmanager.COMPOSE_PATH, "/etc/alertmanager")
    return container(
        settings.IMAGES["alertmanager"],
        **confined(IMAGE_USERS["alertmanager"]),
        command=[
            f"--config.file={config}",
            "--storage.path=/alertmanager",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ],
        volumes=[mount, "alertmanager-data:/alertmanager"],
        secrets=list(secrets(catalog)),  # at /run/secrets/<name>, where alertmanager.yml reads them
        healthcheck=http_probe(settings.PORTS["alertmanager"], "/-/ready"),
    )


def _grafana() -> dict:
    port = settings.PORTS["grafana"]
    return container(
        settings.IMAGES["grafana"],
        # Its image logs to the console only (run.sh sets log.mode), so the data volume is all it writes.
        **confined(IMAGE_USERS["grafana"]),
        environment={
            "GF_SECURITY_ADMIN_USER": GRAFANA_ADMIN_USER.ref(),
            "GF_SECURITY_ADMIN_PASSWORD": GRAFANA_ADMIN_PASSWORD.ref(),
            "GF_SECURITY_COOKIE_SECURE": GRAFANA_COOKIE_SECURE.ref(),
            # Published: nobody sees a dashboard without signing in, and only the admin adds users.
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_AUTH_DISABLE_LOGIN_FORM": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        },
        volumes=[
            "grafana-data:/var/lib/grafana",
            bind(from_deploy(GRAFANA_PROVISIONING_DIR), "/etc/grafana/provisioning"),
            bind(from_deploy(dashboards.DIRECTORY), dashboards.MOUNT),
        ],
        ports=published(port),
        depends_on=after("prometheus", "mimir", "loki", "tempo", "jaeger", "alertmanager", "pyroscope"),
        healthcheck=http_probe(port, "/api/health"),
    )


def _grafana_backend(name: str, path: str, data_dir: str, user: str, **spec: object) -> dict:
    """Loki, Tempo, Mimir and Pyroscope: one config file, and a data volume that is also the working directory
    (whatever a default names relative to it lands on the volume: Loki's ruler WAL, Mimir's
    activity-tracker file)."""
    mount, config = config_file(path, f"/etc/{name}")
    return container(
        settings.IMAGES[name],
        **confined(user),
        working_dir=data_dir,
        command=[f"-config.file={config}"],
        volumes=[mount, f"{name}-data:{data_dir}"],
        **spec,
    )


def _loki() -> dict:
    # Distroless since 3.6 (no shell, no wget): the binary probes its own /ready.
    healthy = healthcheck("CMD", "/usr/bin/loki", "-health")
    return _grafana_backend("loki", loki.PATH, loki.DATA_DIR, IMAGE_USERS["loki"], healthcheck=healthy)


def _alloy() -> dict:
    mount, config = config_file(alloy.PATH, "/etc/alloy")
    port = settings.PORTS["alloy"]
    # The image is Ubuntu with bash but no wget: bash's /dev/tcp asks /-/ready.
    probe = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& head -n 1 <&3 | grep -q ' 200 '"
    )
    return container(
        settings.IMAGES["alloy"],
        # Root, as its image runs (its Dockerfile calls non-root experimental): it reads container logs
        # through the Docker API socket, and writes the data volume the image's alloy user owns, so its
        # capabilities stay (CAP_DAC_OVERRIDE).
        **confined("root", capabilities=True),
        command=[
            "run",
            f"--server.http.listen-addr=0.0.0.0:{port}",  # the image's default is localhost
            "--storage.path=/var/lib/alloy/data",
            config,
        ],
        # config.alloy reads it (sys.env): faro.receiver's CORS and source-map origins.
        environment={FRONTEND_ORIGIN.name: FRONTEND_ORIGIN.ref()},
        volumes=[mount, "alloy-data:/var/lib/alloy/data", bind(DOCKER_SOCKET, DOCKER_SOCKET)],
        depends_on=after("loki", "tempo", "jaeger"),
        healthcheck=healthcheck("CMD", "bash", "-c", probe),
    )


def _tempo() -> dict:
    # Distroless with no self-check: no healthcheck; Prometheus' `up` for the tempo job watches it.
    return _grafana_backend(
        "tempo", tempo.PATH, tempo.DATA_DIR, IMAGE_USERS["tempo"], depends_on=after("prometheus")
    )


def _one_config(name: str, path: str, directory: str, flag: str, probe: dict, **spec: object) -> dict:
    """A container whose one config file is all it reads (Jaeger, the blackbox exporter)."""
    mount, config = config_file(path, directory)
    return container(
        settings.IMAGES[name],
        **confined(IMAGE_USERS[name]),
        command=[f"{flag}={config}"],
        volumes=[mount],
        healthcheck=probe,
        **spec,
    )


def _jaeger() -> dict:
    probe = http_probe(jaeger.HEALTH_PORT, "/status")
    return _one_config(
        "jaeger",
        jaeger.PATH,
        "/etc/jaeger",
        "--config",
        probe,
        # Its traces live in memory: bounded by max_traces, and the container by a limit sized for
        # them (jaeger.MEMORY_LIMIT_MIB); Go's collector works to stay under GOMEMLIMIT first.
        mem_limit=f"{jaeger.MEMORY_LIMIT_MIB}m",
        environment={"GOMEMLIMIT": f"{jaeger.GO_MEMORY_LIMIT_MIB}MiB"},
        # Its UI has no sign-in: the host's loopback only (an ssh tunnel from elsewhere), never
        # AIRSCOPE_BIND_ADDRESS. Grafana's Jaeger datasource reads it inside the network.
        ports=on_loopback(settings.PORTS["jaeger"]),
    )


def _pyroscope() -> dict:
    # Distroless, but the image ships profilecli beside the server: `profilecli ready` asks /ready
    # (its default URL is the container's own port 4040).
    return _grafana_backend(
        "pyroscope",
        pyroscope.PATH,
        pyroscope.DATA_DIR,
        IMAGE_USERS["pyroscope"],
        healthcheck=healthcheck("CMD", "/usr/bin/profilecli", "ready"),
    )


def _mimir() -> dict:
    # Distroless: no healthcheck; Prometheus' `up` for the mimir job watches it. Root without
    # capabilities: the image declares no user, and its data volume (a path the image lacks) is
    # created owned by root.
    return _grafana_backend("mimir", mimir.PATH, mimir.DATA_DIR, "root")


def _node_exporter() -> dict:
    return container(
        settings.IMAGES["node-exporter"],
        **confined(IMAGE_USERS["node-exporter"]),
        command=["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs"],
        volumes=[
            bind("/proc", "/host/proc"),
            bind("/sys", "/host/sys"),
            # rslave: file systems the host mounts later show up too.
            bind("/", "/rootfs", propagation="rslave"),
        ],
        healthcheck=http_probe(settings.PORTS["node-exporter"], "/"),
    )


def _cadvisor() -> dict:
    return container(
        settings.IMAGES["cadvisor"],
        # Root and privileged, with its root filesystem writable: the cgroup and disk statistics of
        # every container on the host. A privileged container has every capability, whatever cap_drop says.
        **confined("root", read_only=False, capabilities=True),
        # Containers only, and no finer than Prometheus reads them: cAdvisor's own CPU stays small.
        # Of the containers' labels, only those settings.CADVISOR_LABELS names.
        command=[
            "--docker_only=true",
            f"--housekeeping_interval={settings.COMPOSE.scrape_interval}",
            "--store_container_labels=false",
            f"--whitelisted_container_labels={','.join(settings.CADVISOR_LABELS)}",
        ],
        volumes=[
            bind("/", "/rootfs"),
            bind("/var/run", "/var/run"),
            bind("/sys", "/sys"),
            bind("/var/lib/docker", "/var/lib/docker"),
            bind("/dev/disk", "/dev/disk"),
        ],
        privileged=True,  # cgroup and disk statistics of every container
        devices=["/dev/kmsg:/dev/kmsg"],
        healthcheck=http_probe(settings.PORTS["cadvisor"], "/healthz"),
    )


def _redis_exporter() -> dict:
    # Built FROM scratch: nothing to run a healthcheck with.
    return container(
        settings.IMAGES["redis-exporter"],
        **confined(IMAGE_USERS["redis-exporter"]),
        environment={"REDIS_ADDR": f"redis://redis:{REDIS_PORT}"},
        depends_on=after(healthy=("redis",)),
    )


def _postgres_exporter() -> dict:
    password = MONITORING_PASSWORD.ref()
    dsn = f"postgresql://{MONITORING_ROLE}:{password}@postgres:{POSTGRES_PORT}/postgres?sslmode=disable"
    return container(
        settings.IMAGES["postgres-exporter"],
        **confined(IMAGE_USERS["postgres-exporter"]),
        environment={"DATA_SOURCE_NAME": dsn},
        depends_on=after(healthy=("postgres",)),
        healthcheck=http_probe(settings.PORTS["postgres-exporter"], "/"),
    )


def _blackbox_exporter() -> dict:
    probe = http_probe(settings.PORTS["blackbox-exporter"], "/-/healthy")
    return _one_config("blackbox-exporter", blackbox.PATH, "/etc/blackbox_exporter", "--config.file", probe)


def containers(catalog: Catalog) -> dict[str, dict]:
    """Every container but the catalog's services, by compose service name."""
    return {
        "postgres": _postgres(catalog),
        "redis": _redis(),
        "prometheus": _prometheus(),
        "alertmanager": _alertmanager(catalog),
        "grafana": _grafana(),
        "loki": _loki(),
        "alloy": _alloy(),
        "tempo": _tempo(),
        "jaeger": _jaeger(),
        "mimir": _mimir(),
        "pyroscope": _pyroscope(),
        "node-exporter": _node_exporter(),
        "cadvisor": _cadvisor(),
        "redis-exporter": _redis_exporter(),
        "postgres-exporter": _postgres_exporter(),
        "blackbox-exporter": _blackbox_exporter(),
    }


def postgres_init(catalog: Catalog) -> str:
    header = "\n".join(f"# {line}" for line in _yaml.header("compose.py").splitlines())
    script = resources.files("airscope.stack").joinpath(INIT_SCRIPT).read_text()
    steps = []
    for service in catalog.services.values():
        if "postgres" in service.requires:
            name, password = database(service), database_password(service).name
            steps.append(f'airscope_role {name} "${{{password}:?{password} is not set}}"')
            steps.append(f"airscope_database {name}")
    monitoring = MONITORING_PASSWORD.name
    steps.append(f'airscope_role {MONITORING_ROLE} "${{{monitoring}:?{monitoring} is not set}}"')
    steps.append(f'airscope_psql --command "GRANT pg_monitor TO {MONITORING_ROLE}"')
    return f"#!/usr/bin/env bash\n{header}\n{script}\n" + "\n".join(steps) + "\n"
