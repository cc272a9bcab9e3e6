"""The saga engine with fake steps against real PostgreSQL: forward, retries, compensation, resume."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from airscope.services.saga_orchestrator.engine import Engine, SagaDefinition, Step, StepContext
from airscope.services.saga_orchestrator.store import LeaseLost, Store, create_pool

pytestmark = [pytest.mark.infra, pytest.mark.anyio]

SAGA = "test-saga"


@pytest.fixture
async def pool(postgres_server) -> AsyncIterator[Any]:
    postgres_server.ensure_database("saga_engine", "pw")
    pool = await create_pool(postgres_server.dsn("saga_engine", "saga_engine", "pw"))
    yield pool
    await pool.close()


def store_for(pool: Any, lease_seconds: float = 30.0) -> Store:
    return Store(pool, uuid.uuid4().hex, lease_seconds)


class Script:
    """Fake steps that record every call and fail as told: ``fail[name]`` is a list of exceptions
    raised by successive attempts (then they succeed), or one exception raised every time."""

    def __init__(self, names: tuple[str, ...] = ("one", "two", "three")) -> None:
        self.names = names
        self.calls: list[tuple[str, str, str]] = []  # (kind, step, idempotency key)
        self.contexts: dict[str, StepContext] = {}
        self.fail: dict[str, list[BaseException] | BaseException] = {}
        self.fail_undo: dict[str, list[BaseException] | BaseException] = {}
        self.delay: dict[str, float] = {}

    @staticmethod
    def _maybe_raise(plan: dict, name: str) -> None:
        failure = plan.get(name)
        if isinstance(failure, list):
            if failure:
                raise failure.pop(0)
        elif failure is not None:
            raise failure

    def definition(self) -> SagaDefinition:
        def step(name: str) -> Step:
            async def action(context: StepContext) -> dict:
                self.calls.append(("do", name, context.idempotency_key))
                self.contexts[name] = context
                await asyncio.sleep(self.delay.get(name, 0))
                self._maybe_raise(self.fail, name)
                return {"made": f"{name}-{context.saga_id}"}

            async def compensation(context: StepContext, result: dict) -> None:
                assert result == {"made": f"{name}-{context.saga_id}"}
                self.calls.append(("undo", name, context.idempotency_key))
                self._maybe_raise(self.fail_undo, name)

            return Step(name, action, compensation)

        return SagaDefinition(SAGA, tuple(step(name) for name in self.names))


def engine_for(store: Store, script: Script, **overrides: Any) -> Engine:
    settings = {
        "step_timeout_seconds": 2.0,
        "step_max_attempts": 3,
        "compensation_max_attempts": 3,
        "backoff_base_seconds": 0.001,
        **overrides,
    }
    return Engine(store, {SAGA: script.definition()}, **settings)


async def run_to_end(engine: Engine, saga_input: dict | None = None) -> dict:
    state = await engine.start(SAGA, saga_input or {"x": 1})
    await engine.wait(state.id, 10)
    final = await engine.store.get(state.id)
    assert final is not None
    return final.to_json()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://upstream/things")
    return httpx.HTTPStatusError("failed", request=request, response=httpx.Response(status, request=request))


def statuses(saga: dict) -> list[str]:
    return [step["status"] for step in saga["steps"]]


async def test_runs_every_step_forward_and_completes(pool) -> None:
    script = Script()
    before = metric("saga_runs_total", saga=SAGA, outcome="completed")

    saga = await run_to_end(engine_for(store_for(pool), script), {"workspace": "w"})

    assert saga["status"] == "completed" and saga["finished_at"] is not None
    assert statuses(saga) == ["done", "done", "done"]
    assert [step["result"] for step in saga["steps"]] == [{"made": f"{n}-{saga['id']}"} for n in script.names]
    assert script.calls == [("do", name, f"{saga['id']}:{name}") for name in script.names]
    assert dict(script.contexts["three"].results) == {
        "one": {"made": f"one-{saga['id']}"},
        "two": {"made": f"two-{saga['id']}"},
    }
    assert script.contexts["one"].input == {"workspace": "w"}
    assert metric("saga_runs_total", saga=SAGA, outcome="completed") == before + 1
    assert metric("saga_step_duration_seconds_count", saga=SAGA, step="two") >= 1


async def test_a_permanent_failure_compensates_the_done_steps_in_reverse_order(pool) -> None:
    script = Script()
    script.fail["three"] = http_error(422)
    before = metric("saga_compensations_total", step="two", outcome="ok")

    saga = await run_to_end(engine_for(store_for(pool), script))

    assert saga["status"] == "compensated"
    assert statuses(saga) == ["compensated", "compensated", "failed"]
    assert saga["steps"][2]["attempts"] == 1  # a 4xx is not retried
    assert "answered 422" in saga["steps"][2]["error"] and saga["error"] == saga["steps"][2]["error"]
    assert [(kind, step) for kind, step, _ in script.calls] == [
        ("do", "one"),
        ("do", "two"),
        ("do", "three"),
        ("undo", "two"),
        ("undo", "one"),
    ]
    assert metric("saga_compensations_total", step="two", outcome="ok") == before + 1


async def test_transient_failures_are_retried_with_the_same_key(pool) -> None:
    script = Script()
    script.fail["two"] = [httpx.ConnectError("refused"), http_error(503)]

    saga = await run_to_end(engine_for(store_for(pool), script))

    assert saga["status"] == "completed"
    assert saga["steps"][1]["attempts"] == 3 and saga["steps"][1]["error"] is None
    assert {key for kind, step, key in script.calls if step == "two"} == {f"{saga['id']}:two"}


async def test_a_step_that_keeps_timing_out_gives_up_after_the_bounded_attempts(pool) -> None:
    script = Script()
    script.delay["two"] = 1.0

    saga = await run_to_end(engine_for(store_for(pool), script, step_timeout_seconds=0.05))

    assert saga["status"] == "compensated"
    assert statuses(saga) == ["compensated", "failed", "pending"]
    assert saga["steps"][1]["attempts"] == 3
    assert saga["steps"][1]["error"] == "timed out"


async def test_a_failing_compensation_fails_the_saga_but_the_others_still_run(pool) -> None:
    script = Script()
    script.fail["three"] = http_error(400)
    script.fail_undo["two"] = http_error(502)
    before = metric("saga_compensations_total", step="two", outcome="failed")
    failed_before = metric("saga_runs_total", saga=SAGA, outcome="failed")

    saga = await run_to_end(engine_for(store_for(pool), script))

    assert saga["status"] == "failed"
    assert statuses(saga) == ["compensated", "compensation_failed", "failed"]
    assert saga["steps"][1]["compensation_attempts"] == 3
    assert "answered 502" in saga["steps"][1]["error"]
    assert [step for kind, step, _ in script.calls if kind == "undo"] == ["two", "two", "two", "one"]
    assert metric("saga_compensations_total", step="two", outcome="failed") == before + 1
    assert metric("saga_runs_total", saga=SAGA, outcome="failed") == failed_before + 1


async def test_a_saga_left_mid_step_by_a_dead_process_is_resumed_from_that_step(pool) -> None:
    crashed = store_for(pool, lease_seconds=0.2)
    state = await crashed.create(SAGA, {"x": 1}, ["one", "two", "three"])
    await crashed.step_started(state.id, "one")
    await crashed.step_done(state.id, "one", {"made": f"one-{state.id}"})
    await crashed.step_started(state.id, "two")  # ... and the process died here
    script = Script()
    survivor = engine_for(store_for(pool), script)
    assert state.id not in await survivor.resume_abandoned()  # its lease still runs

    await asyncio.sleep(0.3)
    assert state.id in await survivor.resume_abandoned()
    await survivor.wait(state.id, 10)

    saga = (await survivor.store.get(state.id)).to_json()
    assert saga["status"] == "completed"
    assert script.calls == [("do", "two", f"{state.id}:two"), ("do", "three", f"{state.id}:three")]
    assert saga["steps"][1]["attempts"] == 2  # the lost attempt and the one that finished it
    assert dict(script.contexts["two"].results) == {"one": {"made": f"one-{state.id}"}}


async def test_a_saga_left_compensating_is_compensated_on_resume(pool) -> None:
    crashed = store_for(pool, lease_seconds=0.1)
    state = await crashed.create(SAGA, {"x": 1}, ["one", "two", "three"])
    for name in ("one", "two"):
        await crashed.step_started(state.id, name)
        await crashed.step_done(state.id, name, {"made": f"{name}-{state.id}"})
    await crashed.step_started(state.id, "three")
    await crashed.step_failed(state.id, "three", "boom")
    await crashed.compensation_started(state.id, "two")  # ... and the process died here
    await asyncio.sleep(0.2)
    script = Script()
    survivor = engine_for(store_for(pool), script)

    assert state.id in await survivor.resume_abandoned()
    await survivor.wait(state.id, 10)

    saga = (await survivor.store.get(state.id)).to_json()
    assert saga["status"] == "compensated"
    assert statuses(saga) == ["compensated", "compensated", "failed"]
    assert [(kind, step) for kind, step, _ in script.calls] == [("undo", "two"), ("undo", "one")]
    assert saga["steps"][1]["compensation_attempts"] == 2


async def test_a_process_that_lost_its_saga_stops_writing_to_it(pool) -> None:
    stalled = store_for(pool, lease_seconds=0.1)
    state = await stalled.create(SAGA, {"x": 1}, ["one"])
    await asyncio.sleep(0.2)
    assert state.id in await store_for(pool).claim_abandoned()

    with pytest.raises(LeaseLost):
        await stalled.step_started(state.id, "one")
    with pytest.raises(LeaseLost):
        await stalled.finish(state.id, "completed")
    assert (await stalled.get(state.id)).steps[0].attempts == 0


async def test_lists_sagas_newest_first_by_status(pool) -> None:
    script = Script(("one",))
    engine = engine_for(store_for(pool), script)
    done = await run_to_end(engine)
    script.fail["one"] = http_error(409)
    compensated = await run_to_end(engine)

    listed = [saga.id for saga in await engine.store.list("compensated", 500)]
    assert compensated["id"] in listed and done["id"] not in listed
    newest = await engine.store.list(None, 2)
    assert [saga.id for saga in newest] == [compensated["id"], done["id"]]
    assert newest[0].steps[0].name == "one"
