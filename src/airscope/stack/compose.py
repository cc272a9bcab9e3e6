"""The production stack: deploy/docker-compose.yml and the files it reads beside it.

One container per catalog service, all run from the one image deploy/Dockerfile builds, beside
PostgreSQL, Redis and the observability stack. Also written: deploy/.env.example (every variable the
compose file reads, each explained), the blackbox exporter's modules and PostgreSQL's init script (a
role and a database for each service that requires it).

`docker compose -f deploy/docker-compose.yml up -d` runs it from the checkout, so every path in it is
relative to deploy/. Only the gateway, the frontend and Grafana publish ports; everything else talks
on the `airscope` network, the one Prometheus' docker_sd relabelling keeps targets on.

Every container is confined (see _confined): a non-root user, a read-only root filesystem with
tmpfs where it writes scratch files, no capabilities and no-new-privileges; the few that run as root
say why where they are built. No password has a default, and no dev stand-in or drill switch is in
the file.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from airscope.catalog import Catalog, Service
from airscope.stack import _yaml, alertmanager, alloy, jaeger, loki, mimir, prometheus, settings, tempo
from airscope.stack.grafana import dashboards, datasources

PATH = "deploy/docker-compose.yml"
ENV_EXAMPLE_PATH = "deploy/.env.example"
BLACKBOX_PATH = "deploy/blackbox/blackbox.yml"
POSTGRES_INIT_PATH = "deploy/postgres/init-databases.sh"
DOCKERFILE_PATH = "deploy/Dockerfile"
# Grafana reads every provisioning file under the folder that holds datasources/ and dashboards/.
GRAFANA_PROVISIONING_DIR = str(PurePosixPath(datasources.PATH).parents[1])
DEPLOY_DIR = "deploy"

PROJECT = "airscope"  # compose's project name: container and volume names, whatever the folder is called
PUBLISHED = ("api-gateway", "frontend", "grafana")  # the only services reachable from outside the host
POSTGRES_PORT = 5432  # the images' own ports (the catalog's are local mode's, which can move)
REDIS_PORT = 6379
MONITORING_ROLE = "monitoring"  # postgres-exporter's read-only role (pg_monitor)
DOCKER_SOCKET = alloy.DOCKER_HOST.removeprefix("unix://")

# The blackbox exporter's modules: any 2xx, and a health+json answer whose status is pass or warn.
HTTP_2XX = settings.BLACKBOX_MODULE
HEALTH_JSON = "http_health_json"

# Base URLs of the outside SaaS a service reaches when the operator sets none (production APIs).
EXTERNAL_URLS = {"airtable": "https://api.airtable.com", "llm": "https://api.openai.com/v1"}

# Who each container runs as: the uid[:gid] its image's Dockerfile declares (postgres and redis: the
# user their entrypoints switch to), written out so that the file says it and a changed image default
# cannot turn a container into root unnoticed. Numeric: several images have no /etc/passwd.
APP_USER = "10001:10001"  # deploy/Dockerfile's airscope user
IMAGE_USERS = {
    "postgres": "999:999",  # postgres; the data volume starts as the image's directory, owned by it
    "redis": "999:999",  # redis; likewise /data
    "alertmanager": "65534:65534",  # nobody
    "grafana": "472:0",  # grafana, in the root group as the image has it
    "loki": "10001:10001",
    "tempo": "10001:10001",
    "jaeger": "10001",
    "node-exporter": "65534:65534",
    "redis-exporter": "59000:59000",
    "postgres-exporter": "65534:65534",
    "blackbox-exporter": "6170",  # blackbox_exporter (http probes only: no ICMP, no raw sockets)
}
# Scratch space where the root filesystem is read-only; bounded, since tmpfs counts as memory.
TMP = "/tmp:mode=1777,size=64m"

# Python services: a probe with the interpreter the image already has (it has no curl or wget).
HEALTH_PROBE = (
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health/live', timeout=4)"
)


# --- variables the compose file reads from deploy/.env ----------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    comment: str
    default: str | None = None  # None: required; compose refuses to start while it is empty
    random: bool = False  # a secret of our own, made with `openssl rand -hex 32`

    def ref(self) -> str:
        if self.default is None:
            return f"${{{self.name}:?set {self.name} in deploy/.env}}"
        return f"${{{self.name}:-{self.default}}}"


VERSION = Variable(
    "AIRSCOPE_VERSION",
    "Tag of the airscope image compose builds from this checkout; a release tag keeps earlier images.",
    "latest",
)
COMMIT = Variable(
    "AIRSCOPE_COMMIT",
    "Reported as service_build_info{commit}, e.g. the output of `git rev-parse --short HEAD`.",
    "unknown",
)
BIND_ADDRESS = Variable(
    "AIRSCOPE_BIND_ADDRESS",
    "Host address the gateway (7000), the frontend (5173) and Grafana (3000) listen on; "
    "127.0.0.1 when a reverse proxy on this host serves them.",
    "0.0.0.0",
)
JWT_SECRET = Variable(
    "AIRSCOPE_JWT_SECRET",
    "Signs the login tokens platform-services issues; every service verifies them with it.",
    random=True,
)
API_KEYS = Variable(
    "AIRSCOPE_API_KEYS",
    "Comma-separated keys the gateway accepts in X-API-Key, for programmatic clients "
    "(`openssl rand -hex 32` each). Empty: only sign-in tokens are accepted.",
    "",
)
FRONTEND_ORIGIN = Variable(
    "AIRSCOPE_FRONTEND_ORIGIN",
    "The origin users' browsers load the frontend from, scheme://host[:port] as the address bar shows "
    "it (e.g. https://airscope.example.com or http://203.0.113.7:5173): the only origin whose pages "
    "the gateway answers cross-origin (CORS). Several: comma-separated. No wildcard.",
)
LOG_LEVEL = Variable("LOG_LEVEL", "Every service's log level: debug, info, warning or error.", "info")
SAMPLE_RATIO = Variable(
    "OTEL_TRACES_SAMPLER_ARG",
    "Share of new traces kept (parentbased_traceidratio): 0.1 keeps one in ten, 1 keeps all.",
    "0.1",
)
POSTGRES_PASSWORD = Variable(
    "POSTGRES_PASSWORD", "Password of PostgreSQL's superuser `postgres` (no service uses it).", random=True
)
MONITORING_PASSWORD = Variable(
    "POSTGRES_MONITORING_PASSWORD",
    f"Password of the read-only `{MONITORING_ROLE}` role postgres-exporter connects as.",
    random=True,
)
# The LLM provider's model and pricing: OpenAI's defaults fit the default LLM_BASE_URL; another
# provider needs its own model name.
LLM_TUNING = (
    Variable("LLM_MODEL", "Model llm-orchestrator asks the LLM provider for.", "gpt-4o-mini"),
    Variable(
        "LLM_PRICES",
        "JSON of USD prices per million tokens by model, for llm_cost_usd_total and the budget "
        '(e.g. {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}); empty: the built-in prices.',
        "",
    ),
    Variable("LLM_DAILY_BUDGET_USD", "Daily LLM spend in USD after which chats are refused with 429.", "10"),
)
GRAFANA_ADMIN_USER = Variable("GRAFANA_ADMIN_USER", "Grafana's administrator login.", "admin")
GRAFANA_ADMIN_PASSWORD = Variable(
    "GRAFANA_ADMIN_PASSWORD", "Grafana's administrator password: Grafana is published.", random=True
)
GRAFANA_COOKIE_SECURE = Variable(
    "GRAFANA_COOKIE_SECURE",
    "true when users reach Grafana over https (a reverse proxy in front of it): its session cookie is "
    "then never sent over plain http. Over plain http it must stay false, or sign-in cannot keep a session.",
    "false",
)
# Alertmanager reads these through compose secrets (files under /run/secrets), never from a config file.
SECRETS = {
    "pagerduty_routing_key": Variable(
        "PAGERDUTY_ROUTING_KEY",
        "Routing key of the PagerDuty Events API v2 integration critical alerts go to. Keep the line "
        "even if empty (compose needs it set); empty, pages fail and alertmanager_notifications_failed_total "
        "counts them.",
    ),
    "slack_webhook_url": Variable(
        "SLACK_WEBHOOK_URL",
        "Slack incoming-webhook URL warnings are posted to. Keep the line even if empty (compose needs "
        "it set); empty, posts fail and alertmanager_notifications_failed_total counts them.",
    ),
}


def _database(service: Service) -> str:
    """The service's own role and database, as the local runner names them."""
    return service.name.replace("-", "_")


def _database_password(service: Service) -> Variable:
    return Variable(
        f"POSTGRES_PASSWORD_{_database(service).upper()}",
        f"Password of {service.name}'s own PostgreSQL role and database `{_database(service)}`.",
        random=True,
    )


def _external_variables(catalog: Catalog, name: str) -> tuple[Variable, Variable]:
    saas = catalog.external[name]
    url = Variable(saas.url_env, f"Base URL of the {name} API.", EXTERNAL_URLS.get(name))
    key = Variable(saas.key_env, f"Credential for the {name} API, as its provider issues it.")
    return url, key


def variables(catalog: Catalog) -> list[Variable]:
    """Every variable the compose file may read, in the order .env.example explains them."""
    found = [VERSION, COMMIT, BIND_ADDRESS, JWT_SECRET, API_KEYS, FRONTEND_ORIGIN, LOG_LEVEL, SAMPLE_RATIO]
    found.append(POSTGRES_PASSWORD)
    found += [_database_password(s) for s in catalog.services.values() if "postgres" in s.requires]
    found.append(MONITORING_PASSWORD)
    for name in catalog.external:
        found += _external_variables(catalog, name)
    grafana = (GRAFANA_ADMIN_USER, GRAFANA_ADMIN_PASSWORD, GRAFANA_COOKIE_SECURE)
    return [*found, *LLM_TUNING, *grafana, *SECRETS.values()]


# --- small pieces every container shares -----------------------------------------------------------


def _logging() -> dict:
    # Docker's json-file driver (what Alloy reads through the socket), rotated so no log fills the disk.
    return {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}}


def _healthcheck(*test: str) -> dict:
    # start_period: failures while a container starts do not count, and the first pass ends it.
    return {"test": list(test), "interval": "15s", "timeout": "5s", "retries": 5, "start_period": "60s"}


def _http_probe(port: int, path: str) -> dict:
    """For the images with busybox (wget) in them."""
    return _healthcheck("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}")


def _from_deploy(path: str) -> str:
    """A checkout-relative path under deploy/ as the compose file names it (relative to deploy/)."""
    return f"./{PurePosixPath(path).relative_to(DEPLOY_DIR)}"


def _bind(source: str, target: str, **bind: str) -> dict:
    # The long syntax: a missing source fails `up` instead of being created as an empty directory.
    mount = {"type": "bind", "source": source, "target": target, "read_only": True}
    return {**mount, "bind": bind} if bind else mount


def _config_file(path: str, directory: str) -> tuple[dict, str]:
    """The bind mount of a generated config file into ``directory`` and its path in the container."""
    target = f"{directory}/{PurePosixPath(path).name}"
    return _bind(_from_deploy(path), target), target


def _container(image: str, **spec: object) -> dict:
    return {"image": image, **spec, "restart": "unless-stopped", "logging": _logging()}


def _confined(
    user: str, *, writable: tuple[str, ...] = (TMP,), read_only: bool = True, capabilities: bool = False
) -> dict:
    """Who the container runs as, a read-only root filesystem with tmpfs at ``writable``, no
    capabilities unless ``capabilities``, and no-new-privileges: no setuid binary in the image can
    gain what the container was not given."""
    spec: dict[str, object] = {"user": user}
    if read_only:
        spec |= {"read_only": True, "tmpfs": list(writable)}
    if not capabilities:
        spec["cap_drop"] = ["ALL"]
    return spec | {"security_opt": ["no-new-privileges:true"]}


def _after(*names: str, healthy: tuple[str, ...] = ()) -> dict:
    """depends_on: started for those it merely talks to, healthy for the stores it cannot work without."""
    return {
        **{name: {"condition": "service_healthy"} for name in healthy},
        **{name: {"condition": "service_started"} for name in names},
    }


def _published(port: int) -> list[str]:
    return [f"{BIND_ADDRESS.ref()}:{port}:{port}"]


# --- the catalog's services ------------------------------------------------------------------------


def _service_urls(catalog: Catalog) -> dict[str, str]:
    # Every service, not only those in `calls`: the gateway's /api/health asks them all, and activity
    # reports go to platform-services from services that do not otherwise call it.
    return {f"AIRSCOPE_URL_{s.env_name}": f"http://{s.name}:{s.port}" for s in catalog.services.values()}


def _extra_environment(service: Service) -> dict[str, str]:
    """What one service needs beyond the rest (its config.py reads it)."""
    if service.name == "api-gateway":
        return {
            "AIRSCOPE_API_KEYS": API_KEYS.ref(),
            "AIRSCOPE_CORS_ORIGINS": FRONTEND_ORIGIN.ref(),
            # uvicorn believes X-Forwarded-For from the frontend's proxy only: browser users count as
            # themselves in the per-client limits, and a direct caller cannot claim another address.
            "FORWARDED_ALLOW_IPS": settings.FRONTEND_ADDRESS,
        }
    if service.name == "mcp-server":
        # Its DNS-rebinding protection rejects any Host header not listed: the name other containers
        # use, with and without the port, and the loopback the healthcheck uses.
        hosts = (f"{service.name}:{service.port}", service.name, f"localhost:{service.port}")
        return {"MCP_ALLOWED_HOSTS": ",".join((*hosts, f"127.0.0.1:{service.port}"))}
    if service.name == "llm-orchestrator":
        return {variable.name: variable.ref() for variable in LLM_TUNING}
    return {}


def _app_environment(service: Service, catalog: Catalog) -> dict[str, str]:
    env = {
        "AIRSCOPE_ENVIRONMENT": settings.COMPOSE.environment,
        "AIRSCOPE_COMMIT": COMMIT.ref(),
        "AIRSCOPE_JWT_SECRET": JWT_SECRET.ref(),
        "LOG_LEVEL": LOG_LEVEL.ref(),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://alloy:{settings.PORTS['otlp-http']}",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": SAMPLE_RATIO.ref(),
        **_service_urls(catalog),
    }
    if "postgres" in service.requires:
        database, password = _database(service), _database_password(service).ref()
        env["DATABASE_URL"] = f"postgresql://{database}:{password}@postgres:{POSTGRES_PORT}/{database}"
    if "redis" in service.requires:
        env["REDIS_URL"] = f"redis://redis:{REDIS_PORT}/0"
    for name in service.external:
        for variable in _external_variables(catalog, name):
            env[variable.name] = variable.ref()
    return env | _extra_environment(service)


def _app(service: Service, catalog: Catalog, builds: bool) -> dict:
    if builds:
        # Built once, by the first service, on every `up` (cached layers make it quick), so the
        # containers always run this checkout; the others never pull the image from a registry.
        image = {"build": {"context": "..", "dockerfile": DOCKERFILE_PATH}, "pull_policy": "build"}
    else:
        image = {"pull_policy": "never"}
    port = service.port
    published = {"ports": _published(port)} if service.name in PUBLISHED else {}
    # The one address the api-gateway believes X-Forwarded-For from.
    fixed_address = (
        {"networks": {"default": {"ipv4_address": settings.FRONTEND_ADDRESS}}}
        if service.name == "frontend"
        else {}
    )
    return _container(
        f"airscope:{VERSION.ref()}",
        **image,
        # /tmp: uploads larger than Starlette's in-memory spool (automation-services' CSV files).
        **_confined(APP_USER),
        command=[
            *("uvicorn", "--factory", f"{service.module}:create_app"),
            *("--host", "0.0.0.0", "--port", str(port)),
        ],
        environment=_app_environment(service, catalog),
        labels={
            settings.SCRAPE_LABEL: "true",
            settings.SERVICE_LABEL: service.name,
            settings.METRICS_PORT_LABEL: str(port),
        },
        mem_limit=f"{service.memory_limit_mib}m",
        healthcheck=_healthcheck("CMD", "python", "-c", HEALTH_PROBE.format(port=port)),
        depends_on=_after(*service.calls, healthy=service.requires),
        **published,
        **fixed_address,
    )


# --- stores and the observability stack ------------------------------------------------------------


def _postgres(catalog: Catalog) -> dict:
    passwords = [_database_password(s) for s in catalog.services.values() if "postgres" in s.requires]
    init = _bind(_from_deploy(POSTGRES_INIT_PATH), "/docker-entrypoint-initdb.d/init-databases.sh")
    return _container(
        settings.IMAGES["postgres"],
        # /run/postgresql: the server's socket and lock file (the init scripts' server listens there).
        **_confined(IMAGE_USERS["postgres"], writable=(TMP, "/run/postgresql:mode=1777,size=1m")),
        environment={v.name: v.ref() for v in (POSTGRES_PASSWORD, *passwords, MONITORING_PASSWORD)},
        volumes=["postgres-data:/var/lib/postgresql/data", init],
        # Over TCP: while the init script runs, the image's temporary server listens on the socket only,
        # so the services wait until their databases exist.
        healthcheck=_healthcheck("CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"),
    )


def _redis() -> dict:
    return _container(
        settings.IMAGES["redis"],
        **_confined(IMAGE_USERS["redis"]),
        command=["redis-server", "--appendonly", "yes"],  # queued uploads survive a restart
        volumes=["redis-data:/data"],
        healthcheck=_healthcheck("CMD-SHELL", "redis-cli ping | grep -q PONG"),
    )


def _prometheus() -> dict:
    directory = _from_deploy(str(PurePosixPath(prometheus.COMPOSE_PATH).parent))
    config = f"/etc/prometheus/{PurePosixPath(prometheus.COMPOSE_PATH).name}"
    return _container(
        settings.IMAGES["prometheus"],
        # Root: docker_sd reads the Docker API, whose socket only root and the host's docker group (its
        # id differs from host to host) may open; whoever opens it is root on the host anyway. Its
        # capabilities stay: root writes the data volume the image's nobody owns (CAP_DAC_OVERRIDE).
        **_confined("root", capabilities=True),
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
            _bind(directory, "/etc/prometheus"),  # prometheus.yml and rules/ beside it
            "prometheus-data:/prometheus",
            _bind(DOCKER_SOCKET, DOCKER_SOCKET),
        ],
        depends_on=_after("alertmanager", "mimir"),
        healthcheck=_http_probe(settings.PORTS["prometheus"], "/-/ready"),
    )


def _alertmanager() -> dict:
    mount, config = _config_file(alertmanager.COMPOSE_PATH, "/etc/alertmanager")
    return _container(
        settings.IMAGES["alertmanager"],
        **_confined(IMAGE_USERS["alertmanager"]),
        command=[
            f"--config.file={config}",
            "--storage.path=/alertmanager",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ],
        volumes=[mount, "alertmanager-data:/alertmanager"],
        secrets=list(SECRETS),  # at /run/secrets/<name>, where alertmanager.yml reads them
        healthcheck=_http_probe(settings.PORTS["alertmanager"], "/-/ready"),
    )


def _grafana() -> dict:
    port = settings.PORTS["grafana"]
    return _container(
        settings.IMAGES["grafana"],
        # Its image logs to the console only (run.sh sets log.mode), so the data volume is all it writes.
        **_confined(IMAGE_USERS["grafana"]),
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
            _bind(_from_deploy(GRAFANA_PROVISIONING_DIR), "/etc/grafana/provisioning"),
            _bind(_from_deploy(dashboards.DIRECTORY), dashboards.MOUNT),
        ],
        ports=_published(port),
        depends_on=_after("prometheus", "mimir", "loki", "tempo", "jaeger", "alertmanager"),
        healthcheck=_http_probe(port, "/api/health"),
    )


def _loki() -> dict:
    mount, config = _config_file(loki.PATH, "/etc/loki")
    return _container(
        settings.IMAGES["loki"],
        **_confined(IMAGE_USERS["loki"]),
        # On the volume: whatever a default names relative to the working directory (the ruler's WAL).
        working_dir=loki.DATA_DIR,
        command=[f"-config.file={config}"],
        volumes=[mount, f"loki-data:{loki.DATA_DIR}"],
        # Distroless since 3.6 (no shell, no wget): the binary probes its own /ready.
        healthcheck=_healthcheck("CMD", "/usr/bin/loki", "-health"),
    )


def _alloy() -> dict:
    mount, config = _config_file(alloy.PATH, "/etc/alloy")
    port = settings.PORTS["alloy"]
    # The image is Ubuntu with bash but no wget: bash's /dev/tcp asks /-/ready.
    probe = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& head -n 1 <&3 | grep -q ' 200 '"
    )
    return _container(
        settings.IMAGES["alloy"],
        # Root, as its image runs (its Dockerfile calls non-root experimental): it reads container logs
        # through the Docker API socket, and writes the data volume the image's alloy user owns, so its
        # capabilities stay (CAP_DAC_OVERRIDE).
        **_confined("root", capabilities=True),
        command=[
            "run",
            f"--server.http.listen-addr=0.0.0.0:{port}",  # the image's default is localhost
            "--storage.path=/var/lib/alloy/data",
            config,
        ],
        volumes=[mount, "alloy-data:/var/lib/alloy/data", _bind(DOCKER_SOCKET, DOCKER_SOCKET)],
        depends_on=_after("loki", "tempo", "jaeger"),
        healthcheck=_healthcheck("CMD", "bash", "-c", probe),
    )


def _tempo() -> dict:
    mount, config = _config_file(tempo.PATH, "/etc/tempo")
    # Distroless with no self-check: no healthcheck; Prometheus' `up` for the tempo job watches it.
    return _container(
        settings.IMAGES["tempo"],
        **_confined(IMAGE_USERS["tempo"]),
        working_dir=tempo.DATA_DIR,
        command=[f"-config.file={config}"],
        volumes=[mount, f"tempo-data:{tempo.DATA_DIR}"],
        depends_on=_after("prometheus"),
    )


def _jaeger() -> dict:
    mount, config = _config_file(jaeger.PATH, "/etc/jaeger")
    return _container(
        settings.IMAGES["jaeger"],
        **_confined(IMAGE_USERS["jaeger"]),
        command=[f"--config={config}"],
        volumes=[mount],
        healthcheck=_http_probe(jaeger.HEALTH_PORT, "/status"),
    )


def _mimir() -> dict:
    mount, config = _config_file(mimir.PATH, "/etc/mimir")
    # Distroless: no healthcheck; Prometheus' `up` for the mimir job watches it.
    return _container(
        settings.IMAGES["mimir"],
        # Root without capabilities: the image declares no user, and its data volume (a path the image
        # lacks) is created owned by root. The working directory takes its activity-tracker file.
        **_confined("root"),
        working_dir=mimir.DATA_DIR,
        command=[f"-config.file={config}"],
        volumes=[mount, f"mimir-data:{mimir.DATA_DIR}"],
    )


def _node_exporter() -> dict:
    return _container(
        settings.IMAGES["node-exporter"],
        **_confined(IMAGE_USERS["node-exporter"]),
        command=["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs"],
        volumes=[
            _bind("/proc", "/host/proc"),
            _bind("/sys", "/host/sys"),
            # rslave: file systems the host mounts later show up too.
            _bind("/", "/rootfs", propagation="rslave"),
        ],
        healthcheck=_http_probe(settings.PORTS["node-exporter"], "/"),
    )


def _cadvisor() -> dict:
    return _container(
        settings.IMAGES["cadvisor"],
        # Root and privileged, with its root filesystem writable: the cgroup and disk statistics of
        # every container on the host. A privileged container has every capability, whatever cap_drop says.
        **_confined("root", read_only=False, capabilities=True),
        # Containers only, and no finer than Prometheus reads them: cAdvisor's own CPU stays small.
        command=["--docker_only=true", f"--housekeeping_interval={settings.COMPOSE.scrape_interval}"],
        volumes=[
            _bind("/", "/rootfs"),
            _bind("/var/run", "/var/run"),
            _bind("/sys", "/sys"),
            _bind("/var/lib/docker", "/var/lib/docker"),
            _bind("/dev/disk", "/dev/disk"),
        ],
        privileged=True,  # cgroup and disk statistics of every container
        devices=["/dev/kmsg:/dev/kmsg"],
        healthcheck=_http_probe(settings.PORTS["cadvisor"], "/healthz"),
    )


def _redis_exporter() -> dict:
    # Built FROM scratch: nothing to run a healthcheck with.
    return _container(
        settings.IMAGES["redis-exporter"],
        **_confined(IMAGE_USERS["redis-exporter"]),
        environment={"REDIS_ADDR": f"redis://redis:{REDIS_PORT}"},
        depends_on=_after(healthy=("redis",)),
    )


def _postgres_exporter() -> dict:
    password = MONITORING_PASSWORD.ref()
    dsn = f"postgresql://{MONITORING_ROLE}:{password}@postgres:{POSTGRES_PORT}/postgres?sslmode=disable"
    return _container(
        settings.IMAGES["postgres-exporter"],
        **_confined(IMAGE_USERS["postgres-exporter"]),
        environment={"DATA_SOURCE_NAME": dsn},
        depends_on=_after(healthy=("postgres",)),
        healthcheck=_http_probe(settings.PORTS["postgres-exporter"], "/"),
    )


def _blackbox_exporter() -> dict:
    mount, config = _config_file(BLACKBOX_PATH, "/etc/blackbox_exporter")
    return _container(
        settings.IMAGES["blackbox-exporter"],
        **_confined(IMAGE_USERS["blackbox-exporter"]),
        command=[f"--config.file={config}"],
        volumes=[mount],
        healthcheck=_http_probe(settings.PORTS["blackbox-exporter"], "/-/healthy"),
    )


def _volumes(services: dict[str, dict]) -> dict[str, dict]:
    named = {
        mount.split(":", 1)[0]
        for spec in services.values()
        for mount in spec.get("volumes", ())
        if isinstance(mount, str)
    }
    return {name: {} for name in sorted(named)}


def compose(catalog: Catalog) -> dict:
    apps = list(catalog.services.values())
    services = {s.name: _app(s, catalog, builds=s is apps[0]) for s in apps}
    services |= {
        "postgres": _postgres(catalog),
        "redis": _redis(),
        "prometheus": _prometheus(),
        "alertmanager": _alertmanager(),
        "grafana": _grafana(),
        "loki": _loki(),
        "alloy": _alloy(),
        "tempo": _tempo(),
        "jaeger": _jaeger(),
        "mimir": _mimir(),
        "node-exporter": _node_exporter(),
        "cadvisor": _cadvisor(),
        "redis-exporter": _redis_exporter(),
        "postgres-exporter": _postgres_exporter(),
        "blackbox-exporter": _blackbox_exporter(),
    }
    return {
        "name": PROJECT,
        "services": services,
        # The default network, named so that docker_sd's relabelling finds targets on it.
        "networks": {
            "default": {"name": settings.NETWORK, "ipam": {"config": [{"subnet": settings.NETWORK_SUBNET}]}}
        },
        "volumes": _volumes(services),
        "secrets": {name: {"environment": variable.name} for name, variable in SECRETS.items()},
    }


# --- the files beside it ---------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def referenced(document: dict) -> set[str]:
    """The variable names a compose document reads: ${NAME...} anywhere, and the secrets' sources."""
    names = {match for text in _strings(document) for match in _REFERENCE.findall(text)}
    return names | {s["environment"] for s in document.get("secrets", {}).values() if "environment" in s}


def env_example(catalog: Catalog, document: dict) -> str:
    used = referenced(document)
    known = variables(catalog)
    unknown = used - {v.name for v in known}
    if unknown:
        raise ValueError(f"the compose file reads variables .env.example does not explain: {sorted(unknown)}")
    lines = [f"# {line}" if line else "#" for line in _yaml.header("compose.py").splitlines()]
    lines += [
        "#",
        "# Copy to deploy/.env and fill in every empty value: `docker compose -f deploy/docker-compose.yml",
        "# up -d` refuses to start while a required one is empty. Commented lines show the default used",
        "# when the line stays commented. Passwords end up in URLs: keep to letters and digits (hex).",
    ]
    for variable in (v for v in known if v.name in used):
        lines.append("")
        lines += [f"# {line}" for line in textwrap.wrap(variable.comment, 100)]
        if variable.default is not None:
            lines.append(f"# {variable.name}={variable.default}")
            continue
        if variable.random:
            lines.append("# Required. Generate one with `openssl rand -hex 32`.")
        lines.append(f"{variable.name}=")
    return "\n".join(lines) + "\n"


def blackbox() -> dict:
    # Docker's networks are IPv4: skip the IPv6 attempt the exporter makes first by default.
    ip4 = {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False}
    return {
        "modules": {
            HTTP_2XX: {"prober": "http", "timeout": "5s", "http": ip4},
            HEALTH_JSON: {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    **ip4,
                    "headers": {"Accept": "application/health+json"},
                    "valid_status_codes": [200],
                    # 200 comes with pass and warn alike; a body that says neither is a failure too.
                    "fail_if_body_not_matches_regexp": ['"status"\\s*:\\s*"(pass|warn)"'],
                },
            },
        }
    }


_INIT_FUNCTIONS = """\
set -eo pipefail

# psql's own quoting (:'x' literal, :"x" identifier) keeps any password safe in the SQL.
airscope_psql() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \\
        --dbname "${POSTGRES_DB:-postgres}" "$@"
}

airscope_role() {  # name, password
    airscope_psql --set=name="$1" --set=password="$2" <<'SQL'
SELECT format('CREATE ROLE %I', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name')\\gexec
ALTER ROLE :"name" WITH LOGIN PASSWORD :'password';
SQL
}

airscope_database() {  # name: owned by the role of the same name
    airscope_psql --set=name="$1" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')\\gexec
SQL
}
"""


def postgres_init(catalog: Catalog) -> str:
    header = "\n".join(f"# {line}" for line in _yaml.header("compose.py").splitlines())
    about = """\
#
# The postgres image runs it once, when it initialises an empty data directory: a login role and a
# database, both named after the service, for each service that requires PostgreSQL, and the
# read-only role postgres-exporter connects as. Running it again creates what is missing and resets
# the passwords from the environment, e.g. after adding a service:
#   docker compose -f deploy/docker-compose.yml exec postgres bash /docker-entrypoint-initdb.d/init-databases.sh
"""
    steps = []
    for service in catalog.services.values():
        if "postgres" in service.requires:
            database, password = _database(service), _database_password(service).name
            steps.append(f'airscope_role {database} "${{{password}:?{password} is not set}}"')
            steps.append(f"airscope_database {database}")
    monitoring = MONITORING_PASSWORD.name
    steps.append(f'airscope_role {MONITORING_ROLE} "${{{monitoring}:?{monitoring} is not set}}"')
    steps.append(f'airscope_psql --command "GRANT pg_monitor TO {MONITORING_ROLE}"')
    return f"#!/usr/bin/env bash\n{header}\n{about}{_INIT_FUNCTIONS}\n" + "\n".join(steps) + "\n"


def generate(catalog: Catalog) -> dict[str, str]:
    document = compose(catalog)
    head = _yaml.header("compose.py")
    return {
        PATH: _yaml.dump(document, head),
        ENV_EXAMPLE_PATH: env_example(catalog, document),
        BLACKBOX_PATH: _yaml.dump(blackbox(), head),
        POSTGRES_INIT_PATH: postgres_init(catalog),
    }
