"""`airscope sagas|jobs|users` over a fake api-gateway: the calls they make, what they print, --json,
and a refusal or an unreachable gateway as one clear error."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from click.testing import CliRunner

from airscope.cli import admin as cli_admin
from airscope.cli import main
from airscope.local import admin

SAGA_ID = "0b6f0e0e-0000-4000-8000-000000000001"
FAILED_SAGA = {
    "id": SAGA_ID,
    "saga": "onboarding",
    "status": "failed",
    "input": {"workspace_name": "Acme"},
    "error": "POST /workflows answered 400: bad",
    "steps": [
        {"name": "create_workspace", "status": "compensated", "attempts": 1, "compensation_attempts": 1,
         "result": {"workspace_id": "w1"}, "error": None},
        {"name": "create_tables", "status": "compensation_failed", "attempts": 1, "compensation_attempts": 5,
         "result": {"table_id": "tbl1"}, "error": "PATCH answered 500"},
        {"name": "register_workflow", "status": "failed", "attempts": 1, "compensation_attempts": 0,
         "result": None, "error": "POST /workflows answered 400: bad"},
    ],
    "created_at": "2025-01-02T03:04:05+00:00",
    "finished_at": "2025-01-02T03:04:09+00:00",
    "reopened_at": None,
    "note": None,
}  # fmt: skip
JOB = {
    "queue": "imports",
    "id": "f1",
    "attempts": 3,
    "enqueued_at": "2025-01-02T03:04:05+00:00",
    "status": "failed",
    "about": "a.csv into appX/Products",
    "error": "gave up after 3 attempts: airtable-gateway answered 502",
}


class FakeGateway:
    """Answers the admin routes from ``routes`` ("METHOD path" -> (status, body)), recording calls."""

    def __init__(self, routes: dict[str, tuple[int, object]]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, str, dict | None, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body, request.headers.get("x-api-key", "")))
        status, answer = self.routes.get(
            f"{request.method} {request.url.path}", (404, {"message": "no route"})
        )
        return httpx.Response(status, json=answer)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict], FakeGateway]:
    monkeypatch.setenv("AIRSCOPE_API_KEY", "the-key")

    def install(routes: dict[str, tuple[int, object]]) -> FakeGateway:
        fake = FakeGateway(routes)
        monkeypatch.setattr(
            cli_admin,
            "_admin",
            lambda url: admin.Admin(url or "http://gw", "the-key", transport=httpx.MockTransport(fake)),
        )
        return fake

    return install


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_sagas_list_prints_the_failed_ones_and_what_is_left_to_undo(gateway) -> None:
    fake = gateway({"GET /api/admin/sagas": (200, {"sagas": [FAILED_SAGA]})})

    code, output = run("sagas", "list")

    assert code == 0, output
    assert SAGA_ID in output and "create_tables" in output and "onboarding" in output
    assert fake.calls == [("GET", "/api/admin/sagas", None, "the-key")]
    code, output = run("sagas", "list", "--json")
    assert json.loads(output) == [FAILED_SAGA]


def test_sagas_show_prints_the_steps_and_the_next_commands(gateway) -> None:
    gateway({f"GET /api/admin/sagas/{SAGA_ID}": (200, FAILED_SAGA)})

    code, output = run("sagas", "show", SAGA_ID)

    assert code == 0, output
    assert "compensation_failed" in output and "tbl1" in output
    assert f"airscope sagas compensate {SAGA_ID}" in output
    assert f"airscope sagas close {SAGA_ID}" in output


def test_sagas_compensate_and_close_say_how_the_saga_ended(gateway) -> None:
    compensated = {**FAILED_SAGA, "status": "compensated"}
    closed = {**FAILED_SAGA, "status": "closed", "note": "archived by hand"}
    fake = gateway(
        {
            f"POST /api/admin/sagas/{SAGA_ID}/compensate": (200, compensated),
            f"POST /api/admin/sagas/{SAGA_ID}/close": (200, closed),
        }
    )

    assert (
        run("sagas", "compensate", SAGA_ID)[1].strip()
        == f"saga {SAGA_ID}: compensated; nothing is left behind"
    )
    code, output = run("sagas", "close", SAGA_ID, "--note", "archived by hand")
    assert code == 0 and "closed (archived by hand)" in output
    assert fake.calls[-1][2] == {"note": "archived by hand"}
    assert run("sagas", "close", SAGA_ID)[0] == 2  # --note is required


def test_a_refusal_is_one_error_with_the_services_message(gateway) -> None:
    gateway({f"POST /api/admin/sagas/{SAGA_ID}/compensate": (409, {"message": "saga is completed: only..."})})

    code, output = run("sagas", "compensate", SAGA_ID)

    assert code != 0
    assert "answered 409: saga is completed: only..." in output
    assert "Traceback" not in output


def test_jobs_list_replay_and_discard(gateway) -> None:
    fake = gateway(
        {
            "GET /api/admin/jobs": (200, {"jobs": [JOB]}),
            "POST /api/admin/jobs/imports/f1/replay": (200, {**JOB, "attempts": 0, "status": "queued"}),
            "DELETE /api/admin/jobs/imports/f1": (200, JOB),
        }
    )

    code, output = run("jobs", "list")
    assert code == 0 and "a.csv into appX/Products" in output and "gave up after 3" in output
    assert run("jobs", "replay", "f1")[1].strip() == "imports f1: replayed (a.csv into appX/Products)"
    assert run("jobs", "discard", "--all")[1].strip() == "imports f1: discarded (a.csv into appX/Products)"
    assert ("POST", "/api/admin/jobs/imports/f1/replay", None, "the-key") in fake.calls
    assert json.loads(run("jobs", "replay", "f1", "--queue", "imports", "--json")[1])[0]["status"] == "queued"


def test_jobs_refuse_an_unknown_job_and_ids_with_all(gateway) -> None:
    gateway({"GET /api/admin/jobs": (200, {"jobs": []})})

    code, output = run("jobs", "replay", "nope")
    assert code != 0 and "no dead-lettered job nope" in output
    code, output = run("jobs", "replay", "f1", "--all")
    assert code == 2 and "not both" in output
    assert run("jobs", "list", "--queue", "emails")[0] == 2


def test_users_revoke_tokens(gateway) -> None:
    answer = {
        "user_id": "u1",
        "email": "ada@example.com",
        "revoked": 2,
        "access_tokens_expire_within_seconds": 900,
    }
    fake = gateway({"POST /api/admin/users/revoke-tokens": (200, answer)})

    code, output = run("users", "revoke-tokens", "Ada@Example.com")

    assert code == 0, output
    assert "2 refresh token(s) revoked" in output and "within 900 s" in output
    assert fake.calls[-1][2] == {"email": "Ada@Example.com"}
    assert json.loads(run("users", "revoke-tokens", "ada@example.com", "--json")[1]) == answer


def test_an_unreachable_gateway_names_it_and_the_way_out(monkeypatch: pytest.MonkeyPatch, free_port) -> None:
    monkeypatch.setenv("AIRSCOPE_API_KEY", "the-key")
    url = f"http://127.0.0.1:{free_port()}"

    code, output = run("sagas", "list", "--gateway-url", url)

    assert code != 0
    assert f"cannot reach the api-gateway at {url}" in output and "--gateway-url" in output
