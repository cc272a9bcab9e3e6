"""saga-orchestrator end to end: the real services it calls, the Airtable stand-in, PostgreSQL, Redis.

One stack serves the module (the stand-in, airtable-gateway, platform-services, automation-services
and an orchestrator); each test onboards its own workspace name, so no two tests share a resource.
Tests that need a process to die, or PostgreSQL to go away, start their own orchestrator.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from airscope.local.postgres import PostgresServer
from tests.servers import Apps, AppServer, clear_faults, scrape, set_faults, start_airtable_standin, value
from tests.support import redis_database, wait_until

pytestmark = pytest.mark.infra

BASE = "appAirscopeDemo01"
SAGA = "airscope.services.saga_orchestrator"
GATEWAY_REDIS_DB, AUTOMATION_REDIS_DB = 11, 12


@dataclass
class Stack:
    apps: Apps
    postgres: PostgresServer
    standin: AppServer | None = None
    gateway: AppServer | None = None
    platform: AppServer | None = None
    automation: AppServer | None = None
    orchestrator: AppServer | None = None

    def start(self, module: str, env: dict[str, str]) -> AppServer:
        return self.apps.start(module, env)

    def database(self, name: str) -> str:
        self.postgres.ensure_database(name, "pw")
        return self.postgres.dsn(name, name, "pw")

    def orchestrator_env(self, database_url: str, **extra: str) -> dict[str, str]:
        assert self.gateway and self.platform and self.automation
        return {
            "DATABASE_URL": database_url,
            "AIRSCOPE_URL_PLATFORM_SERVICES": self.platform.url,
            "AIRSCOPE_URL_AIRTABLE_GATEWAY": self.gateway.url,
            "AIRSCOPE_URL_AUTOMATION_SERVICES": self.automation.url,
            "SAGA_LEASE_SECONDS": "2",
            **extra,
        }

    def tables_named(self, name: str) -> list[dict]:
        assert self.standin
        tables = httpx.get(
            f"{self.standin.url}/v0/meta/bases/{BASE}/tables",
            headers={"Authorization": "Bearer t"},
            timeout=10,
        ).json()["tables"]
        return [table for table in tables if table["name"] == name]

    def workspaces_named(self, name: str) -> list[dict]:
        assert self.platform
        listed = httpx.get(
            self.platform.url + "/workspaces", params={"include_deleted": "true", "limit": 1000}, timeout=10
        )
        return [w for w in listed.raise_for_status().json()["workspaces"] if w["name"] == name]


@pytest.fixture(scope="module")
def stack(module_apps: Apps, postgres_server, redis_server) -> Stack:
    stack = Stack(module_apps, postgres_server)
    stack.standin = start_airtable_standin(module_apps, STANDIN_AIRTABLE_RATE_LIMIT="0")
    stack.gateway = stack.start(
        "airscope.services.airtable_gateway",
        {
            "AIRTABLE_API_URL": stack.standin.url,
            "AIRTABLE_API_KEY": "patSagaTest.secret",
            "REDIS_URL": redis_database(redis_server.url, GATEWAY_REDIS_DB),
            "AIRTABLE_RATE_LIMIT_PER_SECOND": "100",
        },
    )
    stack.platform = stack.start(
        "airscope.services.platform_services",
        {
            "DATABASE_URL": stack.database("platform_saga"),
            "AIRSCOPE_JWT_SECRET": "saga-test-secret-" + "x" * 32,
        },
    )
    stack.automation = stack.start(
        "airscope.services.automation_services",
        {
            "DATABASE_URL": stack.database("automation_saga"),
            "REDIS_URL": redis_database(redis_server.url, AUTOMATION_REDIS_DB),
            "AIRSCOPE_URL_AIRTABLE_GATEWAY": stack.gateway.url,
        },
    )
    stack.orchestrator = stack.start(SAGA, stack.orchestrator_env(stack.database("saga_orchestrator")))
    return stack


@pytest.fixture(autouse=True)
def no_faults(stack: Stack) -> Iterator[None]:
    yield
    assert stack.standin
    clear_faults(stack.standin)


def onboard(url: str, workspace: str, *, wait: bool = True, **extra: str) -> httpx.Response:
    return httpx.post(
        url + "/sagas/onboarding",
        params={"wait": str(wait).lower()},
        json={"workspace_name": workspace, **extra},
        headers={"X-Client-Id": "user:saga-tester"},
        timeout=40,
    )


def wait_for_saga(url: str, saga_id: str, done: Callable[[dict], bool], timeout: float = 30.0) -> dict:
    def finished() -> dict | None:
        saga = httpx.get(f"{url}/sagas/{saga_id}", timeout=10).json()
        assert done(saga), saga
        return saga

    return wait_until(finished, timeout, message=f"saga {saga_id}")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def test_onboarding_creates_the_workspace_the_table_and_the_workflow(stack: Stack) -> None:
    assert stack.orchestrator and stack.platform and stack.automation
    workspace = unique("Acme")
    before = scrape(stack.orchestrator.url)

    answer = onboard(stack.orchestrator.url, workspace)

    assert answer.status_code == 201, answer.text
    saga = answer.json()
    assert (saga["saga"], saga["status"]) == ("onboarding", "completed")
    assert [(s["name"], s["status"], s["attempts"]) for s in saga["steps"]] == [
        ("create_workspace", "done", 1),
        ("create_tables", "done", 1),
        ("register_workflow", "done", 1),
    ]
    results = {step["name"]: step["result"] for step in saga["steps"]}
    workspace_row = httpx.get(
        f"{stack.platform.url}/workspaces/{results['create_workspace']['workspace_id']}"
    )
    assert workspace_row.json()["name"] == workspace and workspace_row.json()["deleted_at"] is None
    assert workspace_row.json()["owner"] == "user:saga-tester"
    (table,) = stack.tables_named(f"{workspace} Tasks")
    assert table["id"] == results["create_tables"]["table_id"]
    workflow = httpx.get(f"{stack.automation.url}/workflows/{results['register_workflow']['workflow_id']}")
    assert workflow.status_code == 200
    assert workflow.json()["kind"] == "record-count"
    assert workflow.json()["workspace_id"] == results["create_workspace"]["workspace_id"]
    assert httpx.get(f"{stack.orchestrator.url}/sagas/{saga['id']}").json() == saga

    after = scrape(stack.orchestrator.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("saga_runs_total", saga="onboarding", outcome="completed") == 1
    assert delta("saga_duration_seconds_count", saga="onboarding") == 1
    for step in ("create_workspace", "create_tables", "register_workflow"):
        assert delta("saga_step_duration_seconds_count", saga="onboarding", step=step) == 1
    assert value(after, "saga_in_progress", saga="onboarding") == 0
    listed = httpx.get(f"{stack.orchestrator.url}/sagas", params={"status": "completed"}).json()["sagas"]
    assert saga["id"] in {s["id"] for s in listed}


def test_without_waiting_the_saga_is_accepted_and_finishes_in_the_background(stack: Stack) -> None:
    assert stack.orchestrator
    answer = onboard(stack.orchestrator.url, unique("Background"), wait=False)

    assert answer.status_code == 202
    assert answer.json()["status"] == "running"
    saga = wait_for_saga(stack.orchestrator.url, answer.json()["id"], lambda s: s["status"] == "completed")
    assert saga["finished_at"] is not None


def test_airtable_failing_compensates_the_workspace(stack: Stack) -> None:
    assert stack.orchestrator and stack.platform
    workspace = unique("Faulty")
    set_faults(stack.standin, error_rate=1.0)
    before = scrape(stack.orchestrator.url)

    answer = onboard(stack.orchestrator.url, workspace)

    saga = answer.json()
    assert answer.status_code == 201 and saga["status"] == "compensated", saga
    steps = {step["name"]: step for step in saga["steps"]}
    assert steps["create_workspace"]["status"] == "compensated"
    assert steps["create_tables"]["status"] == "failed"
    assert steps["create_tables"]["attempts"] == 3  # a 502 is transient: retried, then given up
    assert "502" in steps["create_tables"]["error"]
    assert steps["register_workflow"]["status"] == "pending"
    workspace_id = steps["create_workspace"]["result"]["workspace_id"]
    deleted = httpx.get(f"{stack.platform.url}/workspaces/{workspace_id}").json()
    assert deleted["deleted_at"] is not None
    after = scrape(stack.orchestrator.url)
    compensations = value(after, "saga_compensations_total", step="create_workspace", outcome="ok") - value(
        before, "saga_compensations_total", step="create_workspace", outcome="ok"
    )
    assert compensations == 1
    runs = value(after, "saga_runs_total", saga="onboarding", outcome="compensated") - value(
        before, "saga_runs_total", saga="onboarding", outcome="compensated"
    )
    assert runs == 1


def test_a_failing_last_step_archives_the_table_since_airtable_cannot_delete_it(
    stack: Stack, free_port
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    env = stack.orchestrator_env(
        stack.database("saga_orchestrator"), AIRSCOPE_URL_AUTOMATION_SERVICES=unreachable
    )
    server = stack.start(SAGA, env)
    workspace = unique("W" * 90)  # a long name fits every service's limit too

    saga = onboard(server.url, workspace).json()

    assert saga["status"] == "compensated", saga
    assert [s["status"] for s in saga["steps"]] == ["compensated", "compensated", "failed"]
    assert saga["steps"][2]["attempts"] == 3  # unreachable is transient: retried, then given up
    table_id = saga["steps"][1]["result"]["table_id"]
    (archived,) = stack.tables_named(f"[archived] {workspace} Tasks")
    assert archived["id"] == table_id
    assert stack.tables_named(f"{workspace} Tasks") == []
    assert stack.workspaces_named(workspace)[0]["deleted_at"] is not None
    samples = scrape(server.url)
    assert value(samples, "saga_compensations_total", step="create_tables", outcome="ok") == 1
    assert value(samples, "saga_compensations_total", step="register_workflow") == 0


def test_a_long_workspace_name_still_onboards(stack: Stack) -> None:
    assert stack.orchestrator
    saga = onboard(stack.orchestrator.url, unique("L" * 93)).json()
    assert saga["status"] == "completed", saga


def test_a_restart_resumes_the_saga_in_flight_without_duplicates(stack: Stack) -> None:
    database = stack.database("saga_restart")
    first = stack.start(SAGA, stack.orchestrator_env(database))
    workspace = unique("Restarted")
    set_faults(stack.standin, extra_latency_ms=1500)  # step 2 (the table) is slow: the process dies during it

    started = onboard(first.url, workspace, wait=False)
    assert started.status_code == 202
    saga_id = started.json()["id"]
    wait_for_saga(first.url, saga_id, lambda s: s["steps"][1]["status"] == "running")
    assert first.process is not None
    first.process.kill()  # SIGKILL: no shutdown, the saga is left as written
    first.process.wait()
    clear_faults(stack.standin)

    second = stack.start(SAGA, stack.orchestrator_env(database))
    saga = wait_for_saga(second.url, saga_id, lambda s: s["status"] not in ("running", "compensating"))

    assert saga["status"] == "completed", saga
    assert saga["steps"][0]["attempts"] == 1
    assert saga["steps"][1]["attempts"] == 2  # the attempt lost with the process, and the resumed one
    assert len(stack.workspaces_named(workspace)) == 1
    assert len(stack.tables_named(f"{workspace} Tasks")) == 1
    assert any(r.get("event") == "resuming saga" for r in second.log_records())


def test_bad_input_is_422_and_unknown_sagas_404(stack: Stack) -> None:
    assert stack.orchestrator
    url = stack.orchestrator.url
    for body in (
        {},
        {"workspace_name": ""},
        {"workspace_name": "x" * 101},
        {"workspace_name": "a", "base_id": "b"},
    ):
        refused = httpx.post(url + "/sagas/onboarding", json=body, timeout=10)
        assert refused.status_code == 422, body
        assert refused.json()["error"] == "invalid_request"
    assert httpx.get(url + "/sagas/not-a-uuid").status_code == 422
    assert httpx.get(url + "/sagas", params={"status": "bogus"}).status_code == 422
    missing = httpx.get(f"{url}/sagas/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_postgres_down_makes_health_fail_naming_it(stack: Stack, own_postgres: PostgresServer) -> None:
    own_postgres.start()
    own_postgres.ensure_database("saga_down", "pw")
    server = stack.start(SAGA, stack.orchestrator_env(own_postgres.dsn("saga_down", "saga_down", "pw")))
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    own_postgres.stop()
    assert server.failing_checks() == {"postgres"}
    refused = onboard(server.url, "No Database")
    assert refused.status_code == 503
    assert refused.json()["error"] == "postgres_unavailable"
