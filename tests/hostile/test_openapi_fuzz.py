"""Schemathesis against every service's OpenAPI document: no 5xx, no crash, answers as documented.

The short run of `airscope fuzz` (src/airscope/local/fuzz.py): the eight services as processes on
real PostgreSQL and Redis with the Airtable and LLM stand-ins, wired as `airscope up` wires them,
each target fuzzed with a bounded number of cases per operation from a fixed seed. The long run is
the command itself against `make up`'s platform, or here with AIRSCOPE_FUZZ_EXAMPLES=500.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from airscope import catalog
from airscope.local import fuzz
from airscope.local.postgres import PostgresServer
from tests.servers import Apps, AppServer, start_airtable_standin, start_llm_standin

pytestmark = pytest.mark.infra

EXAMPLES = int(os.environ.get("AIRSCOPE_FUZZ_EXAMPLES", "25"))
API_KEY = secrets.token_urlsafe(16)  # made per run: no credential-looking literal in the repository
TARGETS = (
    "airtable-gateway",
    "automation-services",
    "llm-orchestrator",
    "platform-services",
    "saga-orchestrator",
    "mcp-server",
    "frontend",
    "api-gateway (api key)",
    "api-gateway (bearer)",
    "api-gateway (anonymous)",
)


@dataclass
class FuzzedServices:
    servers: dict[str, AppServer]
    targets: dict[str, fuzz.Target]


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory,
    free_port: Callable[[], int],
    postgres_server: PostgresServer,
    redis_server,
) -> Iterator[FuzzedServices]:
    tmp = tmp_path_factory.mktemp("fuzz")
    cat = catalog.load()
    service_ports = {name: free_port() for name in cat.services}
    with Apps(tmp, env={"AIRSCOPE_TRACE_DIR": str(tmp / "traces")}) as apps:
        airtable = start_airtable_standin(apps)
        llm = start_llm_standin(apps)
        shared = {
            **{
                f"AIRSCOPE_URL_{s.env_name}": f"http://127.0.0.1:{service_ports[s.name]}"
                for s in cat.services.values()
            },
            "AIRSCOPE_API_KEY": API_KEY,
            "AIRSCOPE_JWT_SECRET": secrets.token_urlsafe(32),
            "AIRTABLE_API_URL": airtable.url,
            "AIRTABLE_API_KEY": secrets.token_urlsafe(16),
            "LLM_BASE_URL": llm.url + "/v1",
            "LLM_API_KEY": secrets.token_urlsafe(16),
            # The fuzzer is one client sending as fast as it can: the gateway's limit would turn
            # most of its cases into 429s that never reach a handler.
            "GATEWAY_RATE_LIMIT_RPS": "100000",
            "GATEWAY_RATE_LIMIT_BURST": "100000",
        }
        # A Redis database of its own: other test modules' services keep keys in theirs.
        redis_url = redis_server.url.rsplit("/", 1)[0] + "/13"
        servers = {}
        for service in cat.start_order():
            env = dict(shared)
            if "postgres" in service.requires:
                database = "fuzz_" + service.name.replace("-", "_")
                postgres_server.ensure_database(database, "pw")
                env["DATABASE_URL"] = postgres_server.dsn(database, database, "pw")
            if "redis" in service.requires:
                env["REDIS_URL"] = redis_url
            servers[service.name] = apps.start(service.module, env, port=service_ports[service.name])
        urls = {name: server.url for name, server in servers.items()}
        bearer = fuzz.register_user(urls["platform-services"])
        targets = fuzz.targets(urls, api_key=API_KEY, bearer=bearer)
        yield FuzzedServices(servers, {target.name: target for target in targets})


@pytest.mark.parametrize("name", TARGETS)
def test_generated_requests_get_no_server_error_and_the_documented_answer(
    platform: FuzzedServices, name: str
) -> None:
    began = time.monotonic()
    report = fuzz.fuzz(platform.targets[name], examples=EXAMPLES, seed=fuzz.DEFAULT_SEED)
    print("\n" + fuzz.render([report], time.monotonic() - began))

    assert report.operations > 0 and report.cases >= report.operations
    assert [f"{f.operation} ({f.mode}): {f.check} [{f.status}]\n  {f.curl}" for f in report.failures] == []
    crashed = {
        name: server.log_tail()
        for name, server in platform.servers.items()
        if server.process.poll() is not None
    }
    assert crashed == {}


def test_every_service_of_the_catalog_is_a_target(platform: FuzzedServices) -> None:
    covered = {name.split(" ")[0] for name in platform.targets}
    assert covered == set(catalog.load().services)
    assert set(platform.targets) == set(TARGETS)
