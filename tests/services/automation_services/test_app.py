"""automation-services end to end: the Airtable stand-in, airtable-gateway and the service as
subprocesses, real PostgreSQL and Redis.

One stack serves the module; imports go to the demo base's Products table, so tests compare
counts and metrics before and after, never absolute values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from airscope.local.redis import RedisServer
from tests.servers import Apps, AppServer, clear_faults, movement, scrape, set_faults, value
from tests.support import redis_database, wait_until

pytestmark = [pytest.mark.infra, pytest.mark.usefixtures("airtable_faults_cleared")]

SERVICE = "airscope.services.automation_services"
BASE = "appAirscopeDemo01"
GATEWAY_DB, SERVICE_DB = 14, 15  # Redis databases of this module, emptied before each app starts


@pytest.fixture(scope="module")
def gateway(module_apps: Apps, airtable_standin: AppServer, redis_server) -> AppServer:
    env = {
        "AIRTABLE_API_URL": airtable_standin.url,
        "AIRTABLE_API_KEY": "test",
        "REDIS_URL": redis_database(redis_server.url, GATEWAY_DB),
    }
    return module_apps.start("airscope.services.airtable_gateway", env)


@pytest.fixture(scope="module")
def database_url(postgres_server) -> str:
    postgres_server.ensure_database("automation_test", "pw")
    return postgres_server.dsn("automation_test", "automation_test", "pw")


def _service_env(database_url: str, redis_url: str, gateway_url: str, free_port) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AIRSCOPE_URL_AIRTABLE_GATEWAY": gateway_url,
        # Nothing listens there: activity posts are dropped, as without platform-services.
        "AIRSCOPE_URL_PLATFORM_SERVICES": f"http://127.0.0.1:{free_port()}",
        "AUTOMATION_RETRY_BACKOFF_SECONDS": "1",
    }


@pytest.fixture(scope="module")
def service(module_apps: Apps, gateway: AppServer, database_url: str, redis_server, free_port) -> AppServer:
    env = _service_env(database_url, redis_database(redis_server.url, SERVICE_DB), gateway.url, free_port)
    return module_apps.start(SERVICE, env)


@pytest.fixture
def api(service: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def _upload(api: httpx.Client, name: str, content: bytes, media_type: str, **form: str) -> httpx.Response:
    data = {"base_id": BASE, "table": "Products", **form}
    return api.post("/files", files={"file": (name, content, media_type)}, data=data)


def _finished(api: httpx.Client, file_id: str, timeout: float = 30.0) -> dict:
    def ended() -> dict | None:
        body = api.get(f"/files/{file_id}").json()
        return body if body["status"] in ("completed", "partial", "failed") else None

    return wait_until(ended, timeout, message=f"file {file_id} finished")


def _product_count(gateway: AppServer) -> int:
    response = httpx.get(
        f"{gateway.url}/bases/{BASE}/tables/Products/records",
        params={"maxRecords": 1000, "fields": "Name"},
        timeout=30,
    )
    response.raise_for_status()
    return len(response.json()["records"])


def _stored_files(database_url: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchval("SELECT count(*) FROM automation_files")
        finally:
            await connection.close()

    return asyncio.run(count())


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in rows).encode() + b"\n"


# -- imports -----------------------------------------------------------------------------------


def test_a_csv_of_95_rows_is_imported_in_batches_of_10(
    api: httpx.Client, service: AppServer, gateway: AppServer
) -> None:
    rows = [["Name", "SKU", "Category", "Price", "Stock"]]
    rows += [[f"Import {n}", f"IMP-{n}", "Hardware", f"{n}.5", str(n)] for n in range(95)]
    before_count, before, before_gateway = _product_count(gateway), scrape(service.url), scrape(gateway.url)

    response = _upload(api, "products.csv", _csv(rows), "text/csv")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert {k: v for k, v in accepted.items() if k != "id"} == {
        "filename": "products.csv",
        "type": "csv",
        "status": "queued",
        "base_id": BASE,
        "table": "Products",
    }

    done = _finished(api, accepted["id"])
    assert (done["status"], done["rows_total"], done["rows_imported"], done["rows_failed"]) == (
        "completed",
        95,
        95,
        0,
    )
    assert done["errors"] == []
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    assert _product_count(gateway) - before_count == 95

    gateway_moved = movement(before_gateway, scrape(gateway.url))
    assert gateway_moved("airtable_request_duration_seconds_count", operation="create_records") == 10

    moved = movement(before, scrape(service.url))
    assert moved("automation_records_imported_total") == 95
    assert moved("automation_files_processed_total", type="csv", outcome="completed") == 1
    assert moved("automation_file_processing_duration_seconds_count", type="csv") > 0
    runs = {"workflow": "csv-import", "status": "succeeded"}
    assert moved("automation_workflow_runs_total", **runs) == 1
    wait_until(
        lambda: value(scrape(service.url), "automation_queue_depth", queue="imports") == 0,
        timeout=10,
        message="the imports queue drained",
    )

    history = api.get("/workflows/csv-import/runs").json()
    run = next(run for run in history if run["detail"].get("file_id") == accepted["id"])
    assert run["status"] == "succeeded"
    assert run["detail"]["rows_imported"] == 95


def test_a_json_array_is_imported(api: httpx.Client, gateway: AppServer) -> None:
    before = _product_count(gateway)
    records = [
        {"Name": "Json One", "Price": 3.5, "Stock": 2},
        {"Name": "Json Two", "Category": "Service", "SKU": None},
    ]
    response = _upload(api, "products.json", json.dumps(records).encode(), "application/json")
    assert response.status_code == 202, response.text
    assert response.json()["type"] == "json"
    done = _finished(api, response.json()["id"])
    assert (done["status"], done["rows_imported"]) == ("completed", 2)
    assert _product_count(gateway) - before == 2


def test_rows_with_an_unknown_column_fail_alone_and_the_others_are_imported(
    api: httpx.Client, service: AppServer, gateway: AppServer
) -> None:
    rows = [
        ["Name", "Colour"],
        ["Good 1", ""],
        ["Bad 2", "red"],
        ["Good 3", ""],
        ["Bad 4", "blue"],
        ["Good 5", ""],
    ]
    before_count, before = _product_count(gateway), scrape(service.url)
    response = _upload(api, "mixed.csv", _csv(rows), "text/csv")
    done = _finished(api, response.json()["id"])

    assert (done["status"], done["rows_imported"], done["rows_failed"]) == ("partial", 3, 2)
    assert [error["row"] for error in done["errors"]] == [2, 4]
    assert all("Colour" in error["message"] for error in done["errors"])
    assert _product_count(gateway) - before_count == 3
    after = scrape(service.url)
    moved = movement(before, after)
    assert moved("automation_row_errors_total", type="csv") == 2
    partial = {"type": "csv", "outcome": "partial"}
    assert moved("automation_files_processed_total", **partial) == 1


def test_files_that_cannot_import_are_refused_with_a_reason_and_nothing_is_queued(
    api: httpx.Client, database_url: str
) -> None:
    stored = _stored_files(database_url)
    cases = [
        (_upload(api, "big.csv", b"Name\n" + b"x" * (5 * 1024 * 1024), "text/csv"), 413, "file_too_large"),
        (_upload(api, "notes.txt", b"Name\nA\n", "text/plain"), 415, "unsupported_type"),
        (_upload(api, "empty.csv", b"", "text/csv"), 422, "invalid_request"),
        (_upload(api, "header.csv", b"Name,Price\n", "text/csv"), 422, "invalid_request"),
        (_upload(api, "bad.json", b'{"Name": "A"}', "application/json"), 422, "invalid_request"),
        (_upload(api, "ok.csv", b"Name\nA\n", "text/csv", base_id="not-a-base"), 422, "invalid_request"),
        (
            api.post(
                "/files", files={"file": ("ok.csv", b"Name\nA\n", "text/csv")}, data={"table": "Products"}
            ),
            422,
            "invalid_request",
        ),
        (api.post("/files", data={"base_id": BASE, "table": "Products"}), 422, "invalid_request"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
        assert response.json()["message"]
    messages = [response.json()["message"] for response, _, _ in cases]
    assert "5242880 bytes" in messages[0]
    assert "no data rows" in messages[3]
    assert "must be an array" in messages[4]
    assert "'base_id' is required" in messages[6]
    assert "'file'" in messages[7]
    assert _stored_files(database_url) == stored


def test_an_outage_of_the_gateway_is_retried_until_it_ends(
    api: httpx.Client, service: AppServer, airtable_standin: AppServer
) -> None:
    retries = lambda: value(scrape(service.url), "automation_job_retries_total", queue="imports")  # noqa: E731
    before = retries()
    set_faults(airtable_standin, error_rate=1.0)
    response = _upload(
        api, "outage.csv", _csv([["Name"], ["During outage 1"], ["During outage 2"]]), "text/csv"
    )

    wait_until(lambda: retries() > before, timeout=15, message="a retry")
    clear_faults(airtable_standin)
    done = _finished(api, response.json()["id"])
    assert (done["status"], done["rows_imported"]) == ("completed", 2)


def test_an_outage_that_outlasts_every_attempt_fails_the_import(
    api: httpx.Client, service: AppServer, airtable_standin: AppServer
) -> None:
    before = scrape(service.url)
    set_faults(airtable_standin, error_rate=1.0)
    response = _upload(api, "doomed.csv", _csv([["Name"], ["Never"]]), "text/csv")
    done = _finished(api, response.json()["id"])

    assert (done["status"], done["rows_imported"]) == ("failed", 0)
    assert done["errors"][0]["row"] == 0
    assert "gave up after 3 attempts" in done["errors"][0]["message"]
    assert "502" in done["errors"][0]["message"]
    after = scrape(service.url)
    moved = movement(before, after)
    assert moved("automation_job_retries_total", queue="imports") == 2
    assert moved("automation_jobs_dead_lettered_total", queue="imports") == 1
    failed = {"type": "csv", "outcome": "failed"}
    assert moved("automation_files_processed_total", **failed) == 1


# -- workflows ---------------------------------------------------------------------------------


def test_the_built_in_workflows_are_listed_and_cannot_be_deleted(api: httpx.Client) -> None:
    workflows = {workflow["id"]: workflow for workflow in api.get("/workflows").json()}
    assert workflows["csv-import"]["kind"] == "csv-import"
    assert workflows["record-count"]["schedule_seconds"] == 300
    assert workflows["record-count"]["builtin"] is True
    refused = api.delete("/workflows/record-count")
    assert refused.status_code == 409
    assert refused.json()["error"] == "builtin_workflow"


def test_creating_a_workflow_twice_with_one_idempotency_key_creates_one(api: httpx.Client) -> None:
    body = {
        "name": "Acme counts",
        "kind": "record-count",
        "workspace_id": "ws-acme",
        "config": {"base_id": BASE},
    }
    headers = {"Idempotency-Key": "saga-1:register_workflow"}
    first = api.post("/workflows", json=body, headers=headers)
    second = api.post("/workflows", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert [w["id"] for w in api.get("/workflows").json() if w["name"] == "Acme counts"] == [
        first.json()["id"]
    ]

    reused = api.post("/workflows", json={**body, "name": "Other"}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_key_reused"
    assert api.post("/workflows", json=body).json()["id"] != first.json()["id"]  # no key: a new one

    invalid = api.post("/workflows", json={"name": "x", "kind": "csv-import", "schedule_seconds": 60})
    assert invalid.status_code == 422


def test_deleting_a_workflow_is_idempotent(api: httpx.Client) -> None:
    created = api.post("/workflows", json={"name": "Short-lived", "kind": "record-count"}).json()
    for _ in range(2):
        assert api.delete(f"/workflows/{created['id']}").status_code == 204
    assert api.delete("/workflows/never-existed").status_code == 204
    assert created["id"] not in {w["id"] for w in api.get("/workflows").json()}
    assert api.get(f"/workflows/{created['id']}").json()["deleted_at"] is not None
    assert api.post(f"/workflows/{created['id']}/runs").status_code == 404


def test_record_count_runs_count_every_table_and_keep_a_history(
    api: httpx.Client, service: AppServer, gateway: AppServer
) -> None:
    before = scrape(service.url)
    accepted = api.post("/workflows/record-count/runs")
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["id"]
    assert accepted.json()["status"] == "running"

    def finished() -> dict | None:
        runs = api.get("/workflows/record-count/runs").json()
        run = next((run for run in runs if run["id"] == run_id), None)
        return run if run and run["status"] != "running" else None

    run = wait_until(finished, timeout=15, message="the run finished")
    assert run["status"] == "succeeded", run
    counts = run["detail"]["counts"]
    assert (counts["Customers"], counts["Orders"]) == (24, 30)
    assert counts["Products"] == _product_count(gateway)
    assert run["finished_at"] >= run["started_at"]
    labels = {"workflow": "record-count", "status": "succeeded"}
    assert (
        value(scrape(service.url), "automation_workflow_runs_total", **labels)
        - value(before, "automation_workflow_runs_total", **labels)
        >= 1
    )

    custom = api.post("/workflows", json={"name": "Mine", "kind": "record-count"}).json()
    assert api.post(f"/workflows/{custom['id']}/runs").status_code == 202
    wait_until(
        lambda: api.get(f"/workflows/{custom['id']}/runs").json()[0]["status"] == "succeeded",
        timeout=15,
        message="the custom run finished",
    )
    assert (
        value(scrape(service.url), "automation_workflow_runs_total", workflow="custom", status="succeeded")
        >= 1
    )

    not_runnable = api.post("/workflows/csv-import/runs")
    assert not_runnable.status_code == 409
    assert api.get("/workflows/no-such-workflow/runs").status_code == 404


# -- dependencies ------------------------------------------------------------------------------


def test_without_redis_health_fails_naming_it_and_uploads_are_refused(
    run_app, gateway: AppServer, database_url: str, own_redis: RedisServer, free_port
) -> None:
    own_redis.start()
    server = run_app(SERVICE, _service_env(database_url, own_redis.url, gateway.url, free_port))
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    stored = _stored_files(database_url)
    own_redis.stop()

    assert server.failing_checks() == {"redis"}
    refused = httpx.post(
        server.url + "/files",
        files={"file": ("ok.csv", b"Name\nA\n", "text/csv")},
        data={"base_id": BASE, "table": "Products"},
        timeout=30,
    )
    assert refused.status_code == 503
    assert refused.json()["error"] == "redis_unavailable"
    assert _stored_files(database_url) == stored
