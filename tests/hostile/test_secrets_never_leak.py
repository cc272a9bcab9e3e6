"""Planted secrets never leave the services: not in a log line, a span, /metrics, health output or an
error body.

Real processes on real PostgreSQL and Redis: the api-gateway in front of platform-services and
airtable-gateway (with the Airtable stand-in), llm-orchestrator with the LLM stand-in, and a second
platform-services whose PostgreSQL is unreachable. Every secret is a fresh random string: the
credentials the services hold (API key, JWT secret, Airtable and LLM keys, the database password)
and what callers send (bearer tokens, API keys, passwords, refresh tokens, secrets in query strings
and in a malformed JSON body). Spans are read as the kit exports them (OTLP JSON lines under
AIRSCOPE_TRACE_DIR, after its redaction), logs as the processes wrote them to stdout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from airscope import catalog
from airscope.local.postgres import PostgresServer
from airscope.local.traces import read_spans, span_files
from tests.servers import Apps, AppServer, start_airtable_standin, start_llm_standin

pytestmark = pytest.mark.infra

HEALTH_PATHS = ("/health", "/health/live", "/health/ready")


def planted(kind: str) -> str:
    """A secret no code or fixture could produce by chance, and that looks like its kind."""
    return f"{kind}-planted-{uuid.uuid4().hex}"


@dataclass
class Exposure:
    """Everything the services showed the outside during the cases."""

    secrets: dict[str, str]
    servers: list[AppServer]
    trace_dir: Path
    error_bodies: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    health: list[str] = field(default_factory=list)

    def call(self, method: str, url: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, url, timeout=30, **kwargs)
        if response.status_code >= 400:
            self.error_bodies.append(f"{method} {url} -> {response.status_code}: {response.text}")
        return response

    def observe(self, server: AppServer) -> None:
        self.metrics.append(httpx.get(server.url + "/metrics", timeout=10).text)
        for path in HEALTH_PATHS:
            self.health.append(httpx.get(server.url + path, timeout=10).text)


def leaks(secrets: dict[str, str], texts: list[str]) -> list[str]:
    return sorted({name for name, secret in secrets.items() for text in texts if secret in text})


@pytest.fixture(scope="module")
def exposure(
    tmp_path_factory: pytest.TempPathFactory,
    free_port: Callable[[], int],
    postgres_server: PostgresServer,
    redis_server,
) -> Iterator[Exposure]:
    tmp = tmp_path_factory.mktemp("secrets")
    secrets = {
        name: planted(name)
        for name in (
            "api-key", "jwt-secret", "airtable-key", "llm-key", "db-password",
            "bearer", "x-api-key", "password", "register-password", "refresh-token",
            "query-api-key", "query-token", "malformed-body",
        )
    }  # fmt: skip
    trace_dir = tmp / "traces"
    postgres_server.ensure_database("secrets_test", "pw")
    database_url = postgres_server.dsn("secrets_test", "secrets_test", "pw")
    # Stopped before the tests look: stopping flushes each process' spans.
    with Apps(tmp, env={"AIRSCOPE_TRACE_DIR": str(trace_dir), "OTEL_BSP_SCHEDULE_DELAY": "50"}) as apps:
        seen = Exposure(secrets, apps.started, trace_dir)
        start = apps.start
        platform = start(
            "airscope.services.platform_services",
            {"DATABASE_URL": database_url, "AIRSCOPE_JWT_SECRET": secrets["jwt-secret"]},
        )
        # PostgreSQL unreachable, its password in DATABASE_URL: /health fails, requests answer 503.
        dead_db = f"postgresql://secrets_test:{secrets['db-password']}@127.0.0.1:{free_port()}/secrets_test"
        platform_without_db = start(
            "airscope.services.platform_services",
            {"DATABASE_URL": dead_db, "AIRSCOPE_JWT_SECRET": secrets["jwt-secret"]},
            ready_path="/health/live",
        )
        airtable = start_airtable_standin(apps)
        airtable_gateway = start(
            "airscope.services.airtable_gateway",
            {
                "AIRTABLE_API_URL": airtable.url,
                "AIRTABLE_API_KEY": secrets["airtable-key"],
                "REDIS_URL": redis_server.url,
            },
        )
        llm = start_llm_standin(apps)
        llm_orchestrator = start(
            "airscope.services.llm_orchestrator",
            {
                "LLM_BASE_URL": llm.url + "/v1",
                "LLM_API_KEY": secrets["llm-key"],
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_server.url,
                "AIRSCOPE_URL_MCP_SERVER": f"http://127.0.0.1:{free_port()}",
            },
            ready_path="/health/live",
        )
        nowhere = f"http://127.0.0.1:{free_port()}"
        gateway_env = {
            f"AIRSCOPE_URL_{service.env_name}": nowhere for service in catalog.load().services.values()
        }
        gateway_env.update(
            AIRSCOPE_URL_PLATFORM_SERVICES=platform.url,
            AIRSCOPE_URL_AIRTABLE_GATEWAY=airtable_gateway.url,
            AIRSCOPE_URL_LLM_ORCHESTRATOR=llm_orchestrator.url,
            AIRSCOPE_API_KEY=secrets["api-key"],
            AIRSCOPE_JWT_SECRET=secrets["jwt-secret"],
            REDIS_URL=redis_server.url,
        )
        gateway = start("airscope.services.api_gateway", gateway_env)
        run_cases(seen, gateway.url, platform_without_db.url, llm_orchestrator.url)
        for server in apps.started:
            if not server.module.startswith("airscope.standins"):
                seen.observe(server)
        seen.health.append(httpx.get(gateway.url + "/api/health", timeout=10).text)
    yield seen


def run_cases(seen: Exposure, gateway: str, platform_without_db: str, llm_orchestrator: str) -> None:
    secrets = seen.secrets
    api = gateway + "/api"
    key = {"X-API-Key": secrets["api-key"]}
    email = f"leak-{uuid.uuid4().hex[:8]}@example.com"

    seen.call("GET", api + "/auth/me", headers={"Authorization": f"Bearer {secrets['bearer']}"})
    seen.call("GET", api + "/airtable/bases", headers={"Authorization": f"Bearer {secrets['bearer']}"})
    seen.call("GET", api + "/airtable/bases", headers={"X-API-Key": secrets["x-api-key"]})
    assert seen.call("GET", api + "/airtable/bases", headers=key).status_code == 200
    # Secrets in a query string, on a route that answers and on one that refuses.
    query = {"api_key": secrets["query-api-key"], "token": secrets["query-token"]}
    seen.call("GET", api + "/airtable/bases", headers=key, params=query)
    seen.call("GET", api + "/airtable/bases", params=query)

    registered = seen.call(
        "POST", api + "/auth/register", json={"email": email, "password": secrets["register-password"]}
    )
    assert registered.status_code == 201, registered.text
    seen.call("POST", api + "/auth/login", json={"email": email, "password": secrets["password"]})
    tokens = seen.call(
        "POST", api + "/auth/login", json={"email": email, "password": secrets["register-password"]}
    )
    assert tokens.status_code == 200, tokens.text
    issued = tokens.json()
    # What the services issued is secret from here on, too.
    secrets["issued-access-token"], secrets["issued-refresh-token"] = (
        issued["access_token"],
        issued["refresh_token"],
    )
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    assert seen.call("GET", api + "/auth/me", headers=bearer).status_code == 200
    seen.call("GET", api + "/airtable/bases", headers=bearer)
    seen.call("POST", api + "/auth/refresh", json={"refresh_token": secrets["refresh-token"]}, headers=bearer)
    assert (
        seen.call(
            "POST", api + "/auth/refresh", json={"refresh_token": issued["refresh_token"]}, headers=bearer
        ).status_code
        == 200
    )
    seen.call("POST", api + "/auth/logout", json={"refresh_token": secrets["refresh-token"]}, headers=bearer)
    malformed = json.dumps({"email": email, "password": secrets["malformed-body"]})[:-1]  # no closing brace
    seen.call("POST", api + "/auth/login", content=malformed, headers={"Content-Type": "application/json"})
    seen.call(
        "POST", api + "/auth/register", json={"email": "not-an-email", "password": secrets["malformed-body"]}
    )
    # A chat: the orchestrator calls the LLM provider with its key (the MCP server is down).
    seen.call("POST", api + "/chat", headers=key, json={"message": "list my bases"})
    seen.call(
        "POST", llm_orchestrator + "/chat", json={"message": "hello", "api_key": secrets["query-api-key"]}
    )

    # The dependency error: PostgreSQL unreachable, its password in DATABASE_URL.
    for path in HEALTH_PATHS:
        seen.call("GET", platform_without_db + path)
    seen.call(
        "POST", platform_without_db + "/auth/login", json={"email": email, "password": secrets["password"]}
    )


def test_no_secret_in_any_log_line(exposure: Exposure) -> None:
    logs = [server.log_path.read_text(errors="replace") for server in exposure.servers]
    assert any('"status": 401' in text or '"status":401' in text for text in logs), "the cases did not run"
    assert leaks(exposure.secrets, logs) == []


def test_no_secret_in_any_span(exposure: Exposure) -> None:
    services = {span.service for span in read_spans(exposure.trace_dir)}
    assert {"api-gateway", "platform-services", "airtable-gateway", "llm-orchestrator"} <= services
    # The files whole: every attribute, event and resource a span carries.
    exported = [path.read_text(errors="replace") for path in span_files(exposure.trace_dir)]
    assert leaks(exposure.secrets, exported) == []


def test_no_secret_in_metrics(exposure: Exposure) -> None:
    assert len(exposure.metrics) == 5
    assert leaks(exposure.secrets, exposure.metrics) == []


def test_no_secret_in_health_output(exposure: Exposure) -> None:
    # The database outage shows in the health output (so the case ran), its password does not.
    assert any('"fail"' in text and "postgres" in text for text in exposure.health)
    assert leaks(exposure.secrets, exposure.health) == []


def test_no_secret_in_any_error_body(exposure: Exposure) -> None:
    statuses = {body.split(" -> ")[1][:3] for body in exposure.error_bodies}
    assert {"401", "422", "503"} <= statuses, statuses
    assert leaks(exposure.secrets, exposure.error_bodies) == []
