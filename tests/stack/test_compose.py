"""The production compose file and the files beside it: the catalog in them, how every container is
confined and what it is never given, what check() catches, and PostgreSQL's init script run against
a real server."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest
import yaml
from pydantic import create_model

from airscope import catalog
from airscope.services.common.config import URL, EnvSettings, service_url_field
from airscope.stack import blackbox, compose, compose_env, compose_parts, compose_stack, prometheus, settings
from airscope.stack.checks import compose as compose_check

CHECKOUT = Path(__file__).resolve().parents[2]


def generated() -> dict[str, str]:
    """The compose file, the files beside it, and the blackbox modules its exporter mounts."""
    current = catalog.load()
    return {**compose.generate(current), **blackbox.generate(current)}


def document(files: dict[str, str] | None = None) -> dict:
    return yaml.safe_load((files or generated())[compose.PATH])


def example(files: dict[str, str]) -> dict[str, str | None]:
    """.env.example as {name: value}, None for a commented-out default."""
    found = {}
    for line in files[compose_env.ENV_EXAMPLE_PATH].splitlines():
        name, sep, value = line.removeprefix("# ").partition("=")
        if sep and name.isupper() and " " not in name:
            found[name] = None if line.startswith("#") else value
    return found


@pytest.fixture
def checkout(deployed: Path) -> Path:
    """Every generated stack file, the compose files and the hand-written Dockerfile on disk."""
    for relative, content in generated().items():
        path = deployed / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    shutil.copy(CHECKOUT / compose.DOCKERFILE_PATH, deployed / compose.DOCKERFILE_PATH)
    return deployed


def rewrite(root: Path, change) -> None:
    path = root / compose.PATH
    spec = yaml.safe_load(path.read_text())
    change(spec)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def test_generation_is_deterministic():
    first = generated()
    assert first == generated()
    assert set(first) == {
        compose.PATH,
        compose_env.ENV_EXAMPLE_PATH,
        blackbox.PATH,
        compose_stack.POSTGRES_INIT_PATH,
        compose_env.SECRETS_README_PATH,
        compose_env.SECRETS_GITIGNORE_PATH,
    }


def test_every_catalog_service_runs_from_the_one_image_with_its_command_labels_and_limit():
    services = document()["services"]
    apps = list(catalog.load().services.values())
    builders = [name for name, spec in services.items() if "build" in spec]
    assert builders == [apps[0].name]
    assert services[apps[0].name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    for service in apps:
        spec = services[service.name]
        assert spec["image"] == "airscope:${AIRSCOPE_VERSION:-latest}"
        assert spec["command"] == [
            *("uvicorn", "--factory", f"{service.module}:create_app"),
            *("--host", "0.0.0.0", "--port", str(service.port)),
        ]
        assert spec["labels"] == {
            "airscope.scrape": "true",
            "airscope.service": service.name,
            "airscope.metrics-port": str(service.port),
        }
        assert spec["mem_limit"] == f"{service.memory_limit_mib}m"
        assert f"http://127.0.0.1:{service.port}/health/live" in spec["healthcheck"]["test"][-1]
        assert spec["restart"] == "unless-stopped"
        assert spec["logging"]["driver"] == "json-file"
        assert spec["environment"]["AIRSCOPE_ENVIRONMENT"] == "production"
        # Drill switches inject faults; the kit refuses them in production, and compose never asks.
        assert "AIRSCOPE_DRILLS" not in spec["environment"]
        assert spec["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://alloy:4318"
        assert spec["environment"]["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"


def test_only_the_gateway_the_frontend_and_grafana_are_published_on_the_bind_address():
    published = {name: spec["ports"] for name, spec in document()["services"].items() if "ports" in spec}
    assert published == {
        "api-gateway": ["${AIRSCOPE_BIND_ADDRESS:-0.0.0.0}:7000:7000"],
        "frontend": ["${AIRSCOPE_BIND_ADDRESS:-0.0.0.0}:5173:5173"],
        "grafana": ["${AIRSCOPE_BIND_ADDRESS:-0.0.0.0}:3000:3000"],
        "jaeger": ["127.0.0.1:16686:16686"],  # its UI has no sign-in: the host itself (or a tunnel)
    }


def test_a_service_finds_every_other_by_its_compose_name(monkeypatch):
    environment = document()["services"]["api-gateway"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for service in catalog.load().services.values():
        # The field every service's Config declares for another service's URL.
        located = create_model("Located", __base__=EnvSettings, url=(URL, service_url_field(service.name)))
        assert located.from_env().url == f"http://{service.name}:{service.port}"


def test_services_reach_their_own_database_redis_and_the_saas_they_use():
    services = document()["services"]
    llm = services["llm-orchestrator"]
    env = llm["environment"]
    password = "${POSTGRES_PASSWORD_LLM_ORCHESTRATOR:?set POSTGRES_PASSWORD_LLM_ORCHESTRATOR in deploy/.env}"
    assert env["DATABASE_URL"] == f"postgresql://llm_orchestrator:{password}@postgres:5432/llm_orchestrator"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["LLM_BASE_URL"] == "${LLM_BASE_URL:-https://api.openai.com/v1}"
    assert env["LLM_API_KEY"].startswith("${LLM_API_KEY:?")
    assert "AIRTABLE_API_KEY" not in env
    assert llm["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "mcp-server": {"condition": "service_started"},
        "platform-services": {"condition": "service_started"},
    }
    assert services["airtable-gateway"]["environment"]["AIRTABLE_API_URL"] == (
        "${AIRTABLE_API_URL:-https://api.airtable.com}"
    )
    assert "DATABASE_URL" not in services["mcp-server"]["environment"]
    hosts = services["mcp-server"]["environment"]["MCP_ALLOWED_HOSTS"].split(",")
    assert {"mcp-server:7001", "mcp-server", "127.0.0.1:7001"} <= set(hosts)
    assert services["api-gateway"]["environment"]["AIRSCOPE_API_KEYS"] == "${AIRSCOPE_API_KEYS:-}"


def test_stores_and_the_stack_run_from_settings_images_on_the_named_network():
    spec = document()
    services = spec["services"]
    for name, image in settings.IMAGES.items():
        if name != "python":
            assert services[name]["image"] == image
    assert spec["networks"]["default"]["name"] == settings.NETWORK
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    assert (
        f"--storage.tsdb.retention.time={settings.PROMETHEUS_RETENTION_TIME}"
        in services["prometheus"]["command"]
    )
    assert "--web.enable-remote-write-receiver" in services["prometheus"]["command"]
    assert services["alertmanager"]["secrets"][:2] == [
        "pagerduty_routing_key_platform-team",
        "slack_webhook_url_platform-team",
    ]
    assert services["alertmanager"]["secrets"][-1] == "deadmansswitch_url"
    assert services["cadvisor"]["image"].startswith("ghcr.io/google/cadvisor:v0.60.")
    assert services["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"].startswith(
        "postgresql://monitoring:${POSTGRES_MONITORING_PASSWORD:?"
    )
    named = {m.split(":")[0] for s in services.values() for m in s.get("volumes", ()) if isinstance(m, str)}
    assert set(spec["volumes"]) == named


def test_secrets_are_required_from_env_and_never_defaulted():
    files = generated()
    text = files[compose.PATH]
    values = example(files)
    for name in ("AIRSCOPE_JWT_SECRET", "GRAFANA_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "AIRTABLE_API_KEY"):
        assert f"${{{name}:?" in text
        assert f"${{{name}:-" not in text
        assert values[name] == ""
    assert "change-me" not in text + files[compose_env.ENV_EXAMPLE_PATH]


# --- exposure: defaults, users, file systems, privileges, switches -----------------------------------

# The only containers that may run as root, and why (compose.py says the same where it builds them).
RUNS_AS_ROOT = {
    "prometheus": "docker_sd reads the Docker API socket (root:docker, the group id varies by host)",
    "alloy": "reads container logs through the Docker API socket; its image runs as root",
    "cadvisor": "privileged: the cgroups and disk statistics of every container",
    "mimir": "its image declares no user, and its new data volume is root-owned",
}
# Root writing a volume the image's own user owns needs CAP_DAC_OVERRIDE; privileged has them all.
KEEP_CAPABILITIES = {"prometheus", "alloy", "cadvisor"}
WRITABLE_ROOT_FILESYSTEM = {"cadvisor"}  # privileged; nothing known about what it writes

SECRET_NAME = re.compile(r"PASSWORD|SECRET")
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?")
REQUIRED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")
USERINFO_PASSWORD = re.compile(r"://[^/:@\s]+:([^@\s]*)@")


def strings(node: object, where: str = "") -> list[tuple[str, str]]:
    """Every string in a compose document (keys too), with where it is."""
    if isinstance(node, str):
        return [(where, node)]
    if isinstance(node, dict):
        found = []
        for key, item in node.items():
            found += [(f"{where}.{key}", str(key)), *strings(item, f"{where}.{key}")]
        return found
    if isinstance(node, list):
        return [pair for index, item in enumerate(node) for pair in strings(item, f"{where}[{index}]")]
    return []


def defaulted_passwords(spec: dict) -> list[str]:
    """Every place a password or secret may get a value other than the one deploy/.env must give."""
    found = []
    for where, text in strings(spec):
        for name, operator in REFERENCE.findall(text):
            if SECRET_NAME.search(name) and operator != ":?":
                found.append(f"{where}: ${{{name}{operator}...}} is not required")
        for password in USERINFO_PASSWORD.findall(text):
            if not REQUIRED.fullmatch(password):
                found.append(f"{where}: the URL's password {password!r} is not a required variable")
    for name, service in spec["services"].items():
        for key, value in dict(service.get("environment", {})).items():
            if SECRET_NAME.search(key) and not REQUIRED.fullmatch(str(value)):
                found.append(f"services.{name}.environment.{key}: {value!r} is not a required variable")
    return found


def test_no_password_or_secret_has_a_default_or_a_literal_value():
    spec = document()
    assert defaulted_passwords(spec) == []
    grafana = spec["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")

    services = spec["services"]
    services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] = "${GRAFANA_ADMIN_PASSWORD:-admin}"
    services["redis"]["environment"] = {"REDIS_PASSWORD": "hunter2"}
    dsn = services["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"]
    services["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"] = re.sub(
        r":\$\{[^}]*\}@", ":monitoring@", dsn
    )
    found = "\n".join(defaulted_passwords(spec))
    assert "${GRAFANA_ADMIN_PASSWORD:-...} is not required" in found
    assert "services.redis.environment.REDIS_PASSWORD: 'hunter2'" in found
    assert "the URL's password 'monitoring'" in found


def test_every_container_runs_as_a_non_root_user_but_the_few_allowed():
    services = document()["services"]
    as_root = set()
    for name, spec in services.items():
        uid = str(spec.get("user", "")).split(":")[0]
        if uid in ("root", "0"):
            as_root.add(name)
        else:  # never left to the image's default, which may be root
            assert uid.isdigit() and int(uid) > 0, f"{name} runs as {spec.get('user')!r}"
    assert as_root == set(RUNS_AS_ROOT)
    for service in catalog.load().services.values():
        assert services[service.name]["user"] == compose_parts.APP_USER


def test_the_image_of_our_services_runs_as_the_non_root_user_compose_names():
    lines = (CHECKOUT / compose.DOCKERFILE_PATH).read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users[-1] == compose_parts.APP_USER
    assert not users[-1].startswith("0")


def test_root_filesystems_are_read_only_with_scratch_space_in_tmpfs():
    services = document()["services"]
    for name, spec in services.items():
        if name in WRITABLE_ROOT_FILESYSTEM:
            assert "read_only" not in spec
            continue
        assert spec["read_only"] is True, name
        mounts = {entry.split(":")[0]: entry for entry in spec["tmpfs"]}
        assert "size=" in mounts["/tmp"], name  # tmpfs is memory: bounded
    assert "/run/postgresql" in [entry.split(":")[0] for entry in services["postgres"]["tmpfs"]]


def test_no_container_gains_privileges_and_all_but_a_few_drop_every_capability():
    services = document()["services"]
    for name, spec in services.items():
        assert spec["security_opt"] == ["no-new-privileges:true"], name
        assert "cap_add" not in spec, name
        assert spec.get("cap_drop") == (None if name in KEEP_CAPABILITIES else ["ALL"]), name
        for shared in ("network_mode", "pid", "ipc", "userns_mode"):
            assert spec.get(shared) != "host", f"{name} shares the host's {shared}"
    assert {name for name, spec in services.items() if spec.get("privileged")} == {"cadvisor"}
    assert {name for name, spec in services.items() if "devices" in spec} == {"cadvisor"}


def test_grafana_asks_everyone_to_sign_in_and_lets_nobody_sign_up():
    env = document()["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_AUTH_DISABLE_LOGIN_FORM"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SECURITY_COOKIE_SECURE"] == "${GRAFANA_COOKIE_SECURE:-false}"


def test_the_gateway_answers_cross_origin_calls_from_the_frontend_origin_in_deploy_env_only():
    services = document()["services"]
    origins = "${AIRSCOPE_FRONTEND_ORIGIN:?set AIRSCOPE_FRONTEND_ORIGIN in deploy/.env}"
    assert services["api-gateway"]["environment"]["AIRSCOPE_CORS_ORIGINS"] == origins
    others = [
        name for name, spec in services.items() if "AIRSCOPE_CORS_ORIGINS" in spec.get("environment", {})
    ]
    assert others == ["api-gateway"]


def test_the_gateway_believes_x_forwarded_for_from_the_frontend_address_alone():
    compose = document()
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    frontend = compose["services"]["frontend"]["networks"]["default"]["ipv4_address"]
    assert ipaddress.ip_address(frontend) in subnet
    assert compose["services"]["api-gateway"]["environment"]["FORWARDED_ALLOW_IPS"] == frontend
    trusting = [
        n for n, spec in compose["services"].items() if "FORWARDED_ALLOW_IPS" in spec.get("environment", {})
    ]
    assert trusting == ["api-gateway"]


def test_no_stand_in_runs_and_no_drill_switch_is_set():
    files = generated()
    text = files[compose.PATH] + files[compose_env.ENV_EXAMPLE_PATH]
    assert "AIRSCOPE_DRILLS" not in text
    assert "standin" not in text.lower()
    for saas in catalog.load().external.values():
        assert saas.standin.module not in text
        assert f":{saas.standin.port}" not in text
    services = document(files)["services"]
    for service in catalog.load().services.values():
        assert services[service.name]["environment"]["AIRSCOPE_ENVIRONMENT"] == "production"


def test_env_example_lists_every_variable_the_compose_file_reads():
    files = generated()
    values = example(files)
    assert compose_env.referenced(document(files)) == set(values)
    assert values["OTEL_TRACES_SAMPLER_ARG"] is None  # commented: compose's default 0.1 applies
    assert "# OTEL_TRACES_SAMPLER_ARG=0.1" in files[compose_env.ENV_EXAMPLE_PATH]
    # Alertmanager's secrets are files, not variables: .env.example points at them and lists none.
    assert not {"PAGERDUTY_ROUTING_KEY", "SLACK_WEBHOOK_URL", "DEADMANSSWITCH_URL"} & set(values)
    assert "deploy/secrets/" in files[compose_env.ENV_EXAMPLE_PATH]


def test_the_blackbox_exporter_has_every_module_prometheus_probes_with():
    files = {**generated(), **prometheus.generate(catalog.load())}
    modules = yaml.safe_load(files[blackbox.PATH])["modules"]
    scrape = yaml.safe_load(files[prometheus.COMPOSE_PATH])["scrape_configs"]
    used = {m for job in scrape for m in job.get("params", {}).get("module", ())}
    assert used and used <= set(modules)
    assert modules[blackbox.HEALTH_JSON]["http"]["headers"] == {"Accept": "application/health+json"}


def test_the_dockerfile_starts_from_the_python_image_in_settings():
    lines = (CHECKOUT / compose.DOCKERFILE_PATH).read_text().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("FROM ")] == [settings.IMAGES["python"]]


def test_check_passes_on_the_generated_files(checkout):
    assert compose_check.check(checkout) == []


def test_check_reports_an_unpinned_image_and_an_extra_published_port(checkout):
    def corrupt(spec: dict) -> None:
        spec["services"]["redis"]["image"] = "redis:latest"
        spec["services"]["loki"]["image"] = "grafana/loki"
        spec["services"]["prometheus"]["ports"] = ["9090:9090"]

    rewrite(checkout, corrupt)
    problems = compose_check.check(checkout)
    assert any("services.redis.image 'redis:latest'" in p and "not an exact version" in p for p in problems)
    assert any("services.loki.image 'grafana/loki' has no tag" in p for p in problems), problems
    assert any("services.prometheus.ports" in p for p in problems), problems
    assert len(problems) == 3, problems


def test_check_reports_missing_files_labels_dangling_depends_on_and_a_wrong_base_image(checkout):
    (checkout / "deploy/loki/loki.yml").unlink()

    def corrupt(spec: dict) -> None:
        del spec["services"]["frontend"]["labels"]["airscope.service"]
        spec["services"]["grafana"]["depends_on"]["parca"] = {"condition": "service_started"}
        del spec["services"]["saga-orchestrator"]

    rewrite(checkout, corrupt)
    dockerfile = checkout / compose.DOCKERFILE_PATH
    dockerfile.write_text(dockerfile.read_text().replace(settings.IMAGES["python"], "python:3.12-slim"))
    problems = "\n".join(compose_check.check(checkout))
    assert "services.loki.volumes mounts ./loki/loki.yml" in problems
    assert "services.frontend.labels.airscope.service is None" in problems
    assert "services.grafana.depends_on names parca" in problems
    assert "catalog service saga-orchestrator has no container" in problems
    assert "FROM is python:3.12-slim" in problems


def test_check_relays_docker_compose_and_schema_complaints(checkout):
    # A named volume nobody declared: valid against the schema, refused by compose's loader.
    rewrite(checkout, lambda spec: spec["services"]["redis"]["volumes"].append("undeclared-data:/backup"))
    (problem,) = compose_check.check(checkout)
    assert problem.startswith(f"{compose.PATH}: docker-compose config rejects it")
    assert "undeclared-data" in problem

    rewrite(checkout, lambda spec: spec["services"]["redis"].update(imagee="typo"))
    problems = compose_check.check(checkout)
    assert any("compose-spec schema" in p and "imagee" in p for p in problems), problems


def test_check_reports_a_variable_env_example_does_not_explain(checkout):
    rewrite(checkout, lambda spec: spec["services"]["redis"].update(environment={"TZ": "${TZ:-UTC}"}))
    assert compose_check.check(checkout) == [
        f"{compose_env.ENV_EXAMPLE_PATH}: does not list TZ, which {compose.PATH} reads"
    ]


def test_a_ninth_service_gets_its_container_database_and_variables(ninth_service, checkout):
    files = generated()
    services = document(files)["services"]
    spec = services[ninth_service]
    assert spec["command"][2] == "airscope.services.billing_service:create_app"
    assert spec["command"][-1] == "7109"
    assert spec["labels"]["airscope.service"] == ninth_service
    assert spec["labels"]["airscope.metrics-port"] == "7109"
    assert spec["mem_limit"] == "300m"
    assert spec["environment"]["DATABASE_URL"].endswith("@postgres:5432/billing_service")
    assert spec["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "POSTGRES_PASSWORD_BILLING_SERVICE" in services["postgres"]["environment"]
    assert (
        services["api-gateway"]["environment"]["AIRSCOPE_URL_BILLING_SERVICE"]
        == "http://billing-service:7109"
    )
    assert example(files)["POSTGRES_PASSWORD_BILLING_SERVICE"] == ""
    assert "airscope_database billing_service" in files[compose_stack.POSTGRES_INIT_PATH]
    assert compose_check.check(checkout) == []


# Names of their own: the session's PostgreSQL is shared with the services' tests.
INIT_CATALOG = catalog.parse(
    {
        "infrastructure": {"postgres": {"port": 5432}},
        "services": {
            "init-check-alpha": {"port": 7801, "module": "init.alpha", "requires": ["postgres"]},
            "init-check-beta": {"port": 7802, "module": "init.beta", "requires": ["postgres"]},
            "init-check-gamma": {"port": 7803, "module": "init.gamma"},
        },
    }
)


@pytest.mark.infra
def test_the_init_script_makes_each_service_a_role_and_database_and_can_run_again(postgres_server, tmp_path):
    script = tmp_path / "init-databases.sh"
    script.write_text(compose_stack.postgres_init(INIT_CATALOG))
    assert "init_check_gamma" not in script.read_text()
    databases = ["init_check_alpha", "init_check_beta"]
    passwords = {f"POSTGRES_PASSWORD_{db.upper()}": f"{db}-pw'\"$x" for db in databases}
    passwords["POSTGRES_MONITORING_PASSWORD"] = "monitoring-pw"
    env = {**os.environ, **passwords, "PGHOST": "127.0.0.1", "PGPORT": str(postgres_server.port)}
    for _ in range(2):
        done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    async def connect_as_each() -> None:
        for db in databases:
            password = passwords[f"POSTGRES_PASSWORD_{db.upper()}"]
            connection = await asyncpg.connect(postgres_server.dsn(db, db, password))
            try:
                await connection.execute("CREATE TABLE IF NOT EXISTS owned_here (id int)")
            finally:
                await connection.close()
        connection = await asyncpg.connect(postgres_server.dsn("postgres", "monitoring", "monitoring-pw"))
        try:
            assert await connection.fetchval("SELECT pg_has_role('monitoring', 'pg_monitor', 'member')")
        finally:
            await connection.close()

    asyncio.run(connect_as_each())
    del env["POSTGRES_PASSWORD_INIT_CHECK_BETA"]
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD_INIT_CHECK_BETA is not set" in done.stderr
