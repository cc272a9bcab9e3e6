"""The production stack: deploy/docker-compose.yml and the files it reads beside it.

One container per catalog service (built here), all run from the one image deploy/Dockerfile builds,
beside PostgreSQL, Redis and the observability stack (``compose_stack``). Also written:
deploy/.env.example (``compose_env``: every variable the compose file reads, each explained) and
PostgreSQL's init script (``compose_stack``), and deploy/secrets/'s README and .gitignore (the files
Alertmanager's secrets are read from stay on the host).

`docker compose -f deploy/docker-compose.yml up -d` runs it from the checkout, so every path in it is
relative to deploy/. Only the gateway, the frontend and Grafana publish ports; everything else talks
on the `airscope` network, the one Prometheus' docker_sd relabelling keeps targets on.

Every container is confined (``compose_parts.confined``). No password has a default, and no dev
stand-in or drill switch is in the file.
"""

from __future__ import annotations

from airscope.catalog import Catalog, Service
from airscope.stack import _yaml, compose_stack, settings
from airscope.stack.compose_env import (
    API_KEYS,
    COMMIT,
    ENV_EXAMPLE_PATH,
    FRONTEND_ORIGIN,
    JWT_SECRET,
    LLM_TUNING,
    LOG_LEVEL,
    SAMPLE_RATIO,
    SECRETS_GITIGNORE_PATH,
    SECRETS_README_PATH,
    VERSION,
    database,
    database_password,
    env_example,
    external_variables,
    secrets,
    secrets_gitignore,
    secrets_readme,
)
from airscope.stack.compose_parts import APP_USER, after, confined, container, healthcheck, published
from airscope.stack.compose_stack import POSTGRES_INIT_PATH, POSTGRES_PORT, REDIS_PORT

PATH = "deploy/docker-compose.yml"
DOCKERFILE_PATH = "deploy/Dockerfile"
PROJECT = settings.COMPOSE_PROJECT  # container and volume names, whatever the folder is called
PUBLISHED = ("api-gateway", "frontend", "grafana")  # the only services reachable from outside the host

# Python services: a probe with the interpreter the image already has (it has no curl or wget).
HEALTH_PROBE = (
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health/live', timeout=4)"
)


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
    if service.name == "frontend":
        # Browser telemetry (the Faro Web SDK's payloads) goes on to Alloy's faro.receiver. No
        # depends_on: like every service's OTLP export, a telemetry outage must never keep the web UI
        # from starting, and the frontend keeps serving while Alloy is away.
        return {"FRONTEND_FARO_FORWARD_URL": f"http://alloy:{settings.PORTS['faro']}/collect"}
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
        # Continuous CPU profiles (the kit's agent). No depends_on, as for OTLP: a profiling outage
        # must never keep a service from starting, and the agent's pushes just fail meanwhile.
        "AIRSCOPE_PYROSCOPE_URL": f"http://pyroscope:{settings.PORTS['pyroscope']}",
        **_service_urls(catalog),
    }
    if "postgres" in service.requires:
        name, password = database(service), database_password(service).ref()
        env["DATABASE_URL"] = f"postgresql://{name}:{password}@postgres:{POSTGRES_PORT}/{name}"
    if "redis" in service.requires:
        env["REDIS_URL"] = f"redis://redis:{REDIS_PORT}/0"
    for name in service.external:
        for variable in external_variables(catalog, name):
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
    ports = {"ports": published(port)} if service.name in PUBLISHED else {}
    # The one address the api-gateway believes X-Forwarded-For from.
    fixed_address = (
        {"networks": {"default": {"ipv4_address": settings.FRONTEND_ADDRESS}}}
        if service.name == "frontend"
        else {}
    )
    return container(
        f"airscope:{VERSION.ref()}",
        **image,
        # /tmp: uploads larger than Starlette's in-memory spool (automation-services' CSV files).
        **confined(APP_USER),
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
        healthcheck=healthcheck("CMD", "python", "-c", HEALTH_PROBE.format(port=port)),
        depends_on=after(*service.calls, healthy=service.requires),
        **ports,
        **fixed_address,
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
    services |= compose_stack.containers(catalog)
    return {
        "name": PROJECT,
        "services": services,
        # The default network, named so that docker_sd's relabelling finds targets on it. Containers
        # without a fixed address get one from ip_range only, so the fixed ones (outside it) are free.
        "networks": {"default": {"name": settings.NETWORK, "ipam": {"config": [_addresses()]}}},
        "volumes": _volumes(services),
        "secrets": {name: {"file": secret.file()} for name, secret in secrets(catalog).items()},
    }


def _addresses() -> dict[str, str]:
    return {
        "subnet": settings.NETWORK_SUBNET,
        "ip_range": settings.NETWORK_DYNAMIC_RANGE,
        "gateway": settings.NETWORK_GATEWAY,
    }


def generate(catalog: Catalog) -> dict[str, str]:
    document = compose(catalog)
    head = _yaml.header("compose.py")
    return {
        PATH: _yaml.dump(document, head),
        ENV_EXAMPLE_PATH: env_example(catalog, document),
        POSTGRES_INIT_PATH: compose_stack.postgres_init(catalog),
        SECRETS_README_PATH: secrets_readme(catalog),
        SECRETS_GITIGNORE_PATH: secrets_gitignore(),
    }
