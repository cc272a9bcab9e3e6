"""The scheduler against a real Redis: several instances start a scheduled run once per interval."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from airscope.services.automation_services.queue import Queue
from airscope.services.automation_services.workflows import Scheduler

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


class Clock:
    def __init__(self) -> None:
        self.now = 3_000_000.0  # the start of a 60 s interval

    def __call__(self) -> float:
        return self.now


class Workflows:
    """The two store calls the scheduler makes, over fixed workflows."""

    def __init__(self, workflows: list[dict]) -> None:
        self.workflows = workflows
        self.runs: list[str] = []

    async def scheduled_workflows(self) -> list[dict]:
        return self.workflows

    async def create_run(self, workflow_id: str) -> dict:
        self.runs.append(workflow_id)
        return {"id": f"run-{len(self.runs)}", "workflow_id": workflow_id}


async def test_each_interval_starts_one_run_whatever_the_number_of_instances(client: Redis) -> None:
    clock = Clock()
    store = Workflows(
        [
            {"id": "counts", "kind": "record-count", "schedule_seconds": 60},
            {"id": "import", "kind": "csv-import", "schedule_seconds": 60},  # started by uploads only
        ]
    )
    queue = Queue(client, "runs", max_attempts=3, backoff_seconds=1, clock=clock)
    instances = [Scheduler(store, client, queue, clock=clock) for _ in range(3)]  # type: ignore[arg-type]

    assert [await s.tick() for s in instances] == [1, 0, 0]
    clock.now += 59
    assert [await s.tick() for s in instances] == [0, 0, 0]
    clock.now += 1
    assert [await s.tick() for s in reversed(instances)] == [1, 0, 0]
    assert store.runs == ["counts", "counts"]
    assert await queue.depth() == 2
