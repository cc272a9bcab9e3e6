"""automation-services' operator routes (/admin/jobs...): the dead letters an Airtable outage leaves,
listed, replayed once it is over (the file or run then finishes) or discarded, with the metrics that
show it. The Airtable stand-in, airtable-gateway and the service as subprocesses, real PostgreSQL
and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers import Apps, AppServer, clear_faults, movement, scrape, set_faults, value
from tests.support import redis_database, wait_until

pytestmark = [pytest.mark.infra, pytest.mark.usefixtures("airtable_faults_cleared")]

SERVICE = "airscope.services.automation_services"
BASE = "appAirscopeDemo01"
GATEWAY_DB, SERVICE_DB = 8, 9  # Redis databases of this module


@pytest.fixture(scope="module")
def service(
    module_apps: Apps, airtable_standin: AppServer, postgres_server, redis_server, free_port
) -> AppServer:
    gateway = module_apps.start(
        "airscope.services.airtable_gateway",
        {
            "AIRTABLE_API_URL": airtable_standin.url,
            "AIRTABLE_API_KEY": "test",
            "REDIS_URL": redis_database(redis_server.url, GATEWAY_DB),
        },
    )
    postgres_server.ensure_database("automation_admin", "pw")
    env = {
        "DATABASE_URL": postgres_server.dsn("automation_admin", "automation_admin", "pw"),
        "REDIS_URL": redis_database(redis_server.url, SERVICE_DB),
        "AIRSCOPE_URL_AIRTABLE_GATEWAY": gateway.url,
        "AIRSCOPE_URL_PLATFORM_SERVICES": f"http://127.0.0.1:{free_port()}",
        "AUTOMATION_RETRY_BACKOFF_SECONDS": "0.2",
    }
    return module_apps.start(SERVICE, env)


@pytest.fixture
def api(service: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def _dead_letters(api: httpx.Client, queue: str | None = None) -> dict[str, dict]:
    answer = api.get("/admin/jobs", params={"queue": queue} if queue else {})
    assert answer.status_code == 200, answer.text
    return {job["id"]: job for job in answer.json()["jobs"]}


def _dead_lettered_upload(api: httpx.Client, standin: AppServer, name: str) -> str:
    """A one-row file whose import is given up while Airtable answers 500; its id."""
    set_faults(standin, error_rate=1.0)
    try:
        content = f"Name\n{name}\n".encode()
        answer = api.post(
            "/files",
            files={"file": (f"{name}.csv", content, "text/csv")},
            data={"base_id": BASE, "table": "Products"},
        )
        file_id = answer.json()["id"]
        wait_until(lambda: file_id in _dead_letters(api, "imports"), 30, message=f"{file_id} dead-lettered")
    finally:
        clear_faults(standin)
    return file_id


def _file_finished(api: httpx.Client, file_id: str) -> dict:
    def ended() -> dict | None:
        body = api.get(f"/files/{file_id}").json()
        return body if body["status"] in ("completed", "partial", "failed") else None

    return wait_until(ended, 30, message=f"file {file_id} finished")


def test_a_dead_letter_is_listed_with_its_file_and_replayed_once_airtable_is_back(
    api: httpx.Client, service: AppServer, airtable_standin: AppServer
) -> None:
    file_id = _dead_lettered_upload(api, airtable_standin, "Replayed")
    listed = _dead_letters(api)[file_id]
    assert (listed["queue"], listed["attempts"], listed["status"]) == ("imports", 3, "failed")
    assert listed["about"] == f"Replayed.csv into {BASE}/Products"
    assert "gave up after 3 attempts" in listed["error"]
    wait_until(
        lambda: value(scrape(service.url), "automation_dead_letters", queue="imports") >= 1,
        10,
        message="gauge",
    )
    before = scrape(service.url)

    answer = api.post(f"/admin/jobs/imports/{file_id}/replay")

    assert answer.status_code == 200, answer.text
    assert (answer.json()["id"], answer.json()["attempts"]) == (file_id, 0)
    # Reopened and queued; a free worker may have taken it before the answer was read back.
    assert answer.json()["status"] in ("queued", "processing")
    assert file_id not in _dead_letters(api)
    done = _file_finished(api, file_id)
    assert (done["status"], done["rows_imported"], done["errors"]) == ("completed", 1, [])
    moved = movement(before, scrape(service.url))
    assert moved("automation_dead_letters_handled_total", queue="imports", action="replayed") == 1
    assert moved("automation_files_processed_total", type="csv", outcome="completed") == 1


def test_a_discarded_dead_letter_is_gone_and_its_file_stays_failed(
    api: httpx.Client, service: AppServer, airtable_standin: AppServer
) -> None:
    file_id = _dead_lettered_upload(api, airtable_standin, "Discarded")
    before = scrape(service.url)

    answer = api.delete(f"/admin/jobs/imports/{file_id}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == file_id
    assert file_id not in _dead_letters(api)
    assert api.get(f"/files/{file_id}").json()["status"] == "failed"
    moved = movement(before, scrape(service.url))
    assert moved("automation_dead_letters_handled_total", queue="imports", action="discarded") == 1
    # Handled once: a second replay or discard finds nothing.
    assert api.post(f"/admin/jobs/imports/{file_id}/replay").status_code == 404
    assert api.delete(f"/admin/jobs/imports/{file_id}").status_code == 404


def test_a_dead_lettered_workflow_run_is_replayed_to_success(
    api: httpx.Client, airtable_standin: AppServer
) -> None:
    set_faults(airtable_standin, error_rate=1.0)
    try:
        run = api.post("/workflows/record-count/runs").json()
        wait_until(lambda: run["id"] in _dead_letters(api, "runs"), 30, message="the run dead-lettered")
    finally:
        clear_faults(airtable_standin)
    listed = _dead_letters(api, "runs")[run["id"]]
    assert (listed["status"], listed["about"]) == ("failed", "workflow record-count")

    assert api.post(f"/admin/jobs/runs/{run['id']}/replay").status_code == 200

    def succeeded() -> dict | None:
        runs = {r["id"]: r for r in api.get("/workflows/record-count/runs").json()}
        return runs[run["id"]] if runs[run["id"]]["status"] == "succeeded" else None

    assert "counts" in wait_until(succeeded, 30, message="the replayed run")["detail"]


def test_bad_input_is_a_4xx_with_a_message(api: httpx.Client) -> None:
    cases = [
        ("GET", "/admin/jobs?queue=emails", 422),
        ("POST", "/admin/jobs/emails/abc/replay", 422),
        ("POST", "/admin/jobs/imports/not%20an%20id/replay", 422),
        ("POST", "/admin/jobs/imports/0123456789abcdef/replay", 404),
        ("DELETE", "/admin/jobs/runs/0123456789abcdef", 404),
    ]
    for method, path, status in cases:
        answer = api.request(method, path)
        assert answer.status_code == status, (method, path, answer.text)
        assert answer.json()["message"], answer.text
