"""saga-orchestrator's operator routes (/admin/sagas...) over fake steps and a real PostgreSQL:
list, inspect, compensate again, close, and the metrics that show what is left to clean up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from airscope.services.common import install_error_handlers
from airscope.services.saga_orchestrator import metrics
from airscope.services.saga_orchestrator.app import admin
from airscope.services.saga_orchestrator.store import Store, create_pool
from tests.services.saga_orchestrator.test_engine import (
    SAGA,
    Script,
    engine_for,
    http_error,
    metric,
    run_to_end,
)

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


@pytest.fixture
async def pool(postgres_server) -> AsyncIterator[Any]:
    postgres_server.ensure_database("saga_admin", "pw")
    pool = await create_pool(postgres_server.dsn("saga_admin", "saga_admin", "pw"))
    async with pool.acquire() as connection:
        await connection.execute("TRUNCATE sagas CASCADE")
    yield pool
    await pool.close()


class Admin:
    """The admin router in an app of its own, driving ``script``'s saga."""

    def __init__(self, pool: Any, script: Script) -> None:
        self.script = script
        self.store = Store(pool, uuid.uuid4().hex, 30.0)
        self.engine = engine_for(self.store, script)
        app = FastAPI()
        install_error_handlers(app)
        app.include_router(admin)
        app.state.engine, app.state.store = self.engine, self.store
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://saga")

    async def failed_saga(self) -> dict:
        """A saga whose step three fails for good and whose step two cannot be undone."""
        self.script.fail["three"] = http_error(400)
        self.script.fail_undo["two"] = http_error(400)
        saga = await run_to_end(self.engine)
        assert saga["status"] == "failed"
        return saga


@pytest.fixture
async def sagas(pool) -> AsyncIterator[Admin]:
    admin_app = Admin(pool, Script())
    async with admin_app.http:
        yield admin_app


async def test_lists_the_failed_sagas_by_default_and_shows_one(sagas: Admin) -> None:
    failed = await sagas.failed_saga()
    sagas.script.fail.clear()
    completed = await run_to_end(sagas.engine)

    listed = (await sagas.http.get("/admin/sagas")).json()["sagas"]
    assert [saga["id"] for saga in listed] == [failed["id"]]
    completed_ids = [s["id"] for s in (await sagas.http.get("/admin/sagas?status=completed")).json()["sagas"]]
    assert completed_ids == [completed["id"]]

    shown = (await sagas.http.get(f"/admin/sagas/{failed['id']}")).json()
    assert [step["status"] for step in shown["steps"]] == ["compensated", "compensation_failed", "failed"]
    assert shown["steps"][1]["result"] == {"made": f"two-{failed['id']}"}  # what is left to undo
    assert (shown["reopened_at"], shown["note"]) == (None, None)


async def test_compensating_again_undoes_what_was_left_and_counts_as_a_clean_up(sagas: Admin) -> None:
    saga = await sagas.failed_saga()
    sagas.script.fail_undo.clear()  # whatever refused the undo is fixed
    sagas.script.calls.clear()
    runs_before = metric("saga_runs_total", saga=SAGA, outcome="compensated")
    cleanups_before = metric("saga_cleanups_total", saga=SAGA, outcome="compensated")

    answer = await sagas.http.post(f"/admin/sagas/{saga['id']}/compensate")

    assert answer.status_code == 200, answer.text
    ended = answer.json()
    assert ended["status"] == "compensated" and ended["reopened_at"] is not None
    assert [step["status"] for step in ended["steps"]] == ["compensated", "compensated", "failed"]
    # Only the undo that had failed runs again: step one was undone the first time.
    assert [(kind, step) for kind, step, _ in sagas.script.calls] == [("undo", "two")]
    assert metric("saga_cleanups_total", saga=SAGA, outcome="compensated") == cleanups_before + 1
    assert metric("saga_runs_total", saga=SAGA, outcome="compensated") == runs_before  # not a new run


async def test_a_compensation_that_fails_again_leaves_the_saga_failed(sagas: Admin) -> None:
    saga = await sagas.failed_saga()
    before = metric("saga_cleanups_total", saga=SAGA, outcome="failed")

    ended = (await sagas.http.post(f"/admin/sagas/{saga['id']}/compensate")).json()

    assert ended["status"] == "failed"
    assert ended["steps"][1]["status"] == "compensation_failed"
    assert metric("saga_cleanups_total", saga=SAGA, outcome="failed") == before + 1
    # ...and it can be tried again, or closed.
    assert (await sagas.http.post(f"/admin/sagas/{saga['id']}/compensate")).json()["status"] == "failed"


async def test_closing_keeps_the_note_and_the_saga_leaves_the_failed_list(sagas: Admin) -> None:
    saga = await sagas.failed_saga()
    before = metric("saga_cleanups_total", saga=SAGA, outcome="closed")

    answer = await sagas.http.post(
        f"/admin/sagas/{saga['id']}/close", json={"note": "  table archived by hand (ana)  "}
    )

    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["note"]) == ("closed", "table archived by hand (ana)")
    assert (await sagas.http.get("/admin/sagas")).json()["sagas"] == []
    assert metric("saga_cleanups_total", saga=SAGA, outcome="closed") == before + 1


async def test_only_a_failed_saga_is_compensated_or_closed(sagas: Admin) -> None:
    completed = await run_to_end(sagas.engine)

    for action, body in (("compensate", None), ("close", {"note": "n"})):
        answer = await sagas.http.post(f"/admin/sagas/{completed['id']}/{action}", json=body)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "not_failed"
        assert f"saga {completed['id']} is completed" in answer.json()["message"]


async def test_bad_input_is_a_4xx_with_a_message(sagas: Admin) -> None:
    saga = await sagas.failed_saga()
    unknown = str(uuid.uuid4())

    cases = [
        ("GET", f"/admin/sagas/{unknown}", None, 404),
        ("POST", f"/admin/sagas/{unknown}/compensate", None, 404),
        ("POST", f"/admin/sagas/{unknown}/close", {"note": "n"}, 404),
        ("GET", "/admin/sagas/not-a-uuid", None, 422),
        ("GET", "/admin/sagas?status=lost", None, 422),
        ("GET", "/admin/sagas?limit=0", None, 422),
        ("POST", f"/admin/sagas/{saga['id']}/close", {"note": "   "}, 422),
        ("POST", f"/admin/sagas/{saga['id']}/close", {}, 422),
        ("POST", f"/admin/sagas/{saga['id']}/close", {"note": "x" * 1001}, 422),
    ]
    for method, path, body, status in cases:
        answer = await sagas.http.request(method, path, json=body)
        assert answer.status_code == status, (method, path, answer.text)
        assert answer.json()["message"], answer.text
    assert (await sagas.http.get(f"/admin/sagas/{saga['id']}")).json()["status"] == "failed"


async def test_the_gauge_counts_the_failed_sagas_left_to_clean_up(sagas: Admin) -> None:
    first, second = await sagas.failed_saga(), await sagas.failed_saga()

    metrics.set_failed_open([SAGA], await sagas.store.failed_by_saga())
    assert metric("saga_failed_open", saga=SAGA) == 2

    await sagas.http.post(f"/admin/sagas/{first['id']}/close", json={"note": "done by hand"})
    sagas.script.fail_undo.clear()
    await sagas.http.post(f"/admin/sagas/{second['id']}/compensate")
    metrics.set_failed_open([SAGA], await sagas.store.failed_by_saga())
    assert metric("saga_failed_open", saga=SAGA) == 0
