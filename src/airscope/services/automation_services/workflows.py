"""Workflows and their runs: the built-in ``csv-import`` (each file import is one of its runs) and
``record-count`` (counts the records of every table of a base), plus user-created ones of either kind.

A run is created ``running`` and done by a worker of the ``runs`` queue, so a run survives the
restart of the instance that started it. Workflows with ``schedule_seconds`` are started by the
scheduler of every instance; a Redis ``SET NX EX`` per workflow and interval makes exactly one
instance start each scheduled run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import redis.exceptions
from redis.asyncio import Redis

from airscope.services.automation_services import metrics
from airscope.services.automation_services.queue import Job, Queue
from airscope.services.automation_services.store import Store
from airscope.services.automation_services.worker import Gateway, GatewayRejected
from airscope.telemetry import get_logger, untraced

log = get_logger(__name__)

KINDS = ("csv-import", "record-count")
# Airtable's largest page request; a table with more records counts as this many (see "limit").
COUNT_LIMIT = 1000
SCHEDULER_TICK_SECONDS = 5.0


class NotRunnable(Exception):
    """The workflow cannot be started by hand (a csv-import runs when a file is uploaded)."""


async def start_run(store: Store, queue: Queue, workflow: dict[str, Any]) -> dict[str, Any]:
    """Creates a run and queues it; a run that could not be queued is removed, not left running."""
    if workflow["kind"] != "record-count":
        raise NotRunnable(f"a {workflow['kind']} workflow runs when a file is uploaded (POST /files)")
    run = await store.create_run(workflow["id"])
    try:
        await queue.enqueue(run["id"])
    except redis.exceptions.RedisError:
        await store.delete_run(run["id"])
        raise
    return run


async def count_records(gateway: Gateway, base_id: str) -> dict[str, int]:
    """Records per table of the base, asking each table for its primary field only."""
    counts = {}
    for table in await gateway.list_tables(base_id):
        primary = next(
            (f["name"] for f in table.get("fields", []) if f.get("id") == table.get("primaryFieldId")), None
        )
        records = await gateway.list_records(
            base_id, table["id"], max_records=COUNT_LIMIT, fields=[primary] if primary else []
        )
        counts[table["name"]] = len(records)
    return counts


class Runner:
    """The handler of the ``runs`` queue: a job's id is a run's id."""

    def __init__(self, store: Store, gateway: Gateway, default_base_id: str) -> None:
        self.store = store
        self.gateway = gateway
        self.default_base_id = default_base_id

    async def handle(self, job: Job) -> None:
        found = await self.store.running_run(job.id)
        if found is None:
            return
        run, workflow = found
        base_id = workflow["config"].get("base_id") or self.default_base_id
        try:
            counts = await count_records(self.gateway, base_id)
        except GatewayRejected as exc:
            await self._finish(run, workflow, "failed", {"base_id": base_id, "error": exc.message})
            return
        await self._finish(
            run, workflow, "succeeded", {"base_id": base_id, "counts": counts, "limit": COUNT_LIMIT}
        )

    async def give_up(self, job: Job, reason: str) -> None:
        found = await self.store.running_run(job.id)
        if found is not None:
            run, workflow = found
            await self._finish(
                run, workflow, "failed", {"error": f"gave up after {job.attempts + 1} attempts: {reason}"}
            )

    async def _finish(
        self, run: dict[str, Any], workflow: dict[str, Any], status: str, detail: dict[str, Any]
    ) -> None:
        if await self.store.finish_run(run["id"], status, detail):
            metrics.WORKFLOW_RUNS.labels(
                metrics.workflow_label(workflow["name"], workflow["builtin"]), status
            ).inc()
            log.info("workflow run finished", workflow=workflow["id"], run=run["id"], status=status)


class Scheduler:
    """Starts each scheduled workflow once per interval, whichever instance gets there first."""

    def __init__(
        self, store: Store, redis: Redis, queue: Queue, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.redis = redis
        self.queue = queue
        self.clock = clock

    async def run(self, tick_seconds: float = SCHEDULER_TICK_SECONDS) -> None:
        while True:
            try:
                # A timer, not anyone's request; a run it starts is traced when its job is processed.
                with untraced():
                    await self.tick()
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                redis.exceptions.RedisError,
            ) as exc:
                # The datastores' checks report the outage; the scheduler tries again next tick.
                log.debug("scheduler tick failed", error=type(exc).__name__)
            except Exception:
                # A bug must not stop every later scheduled run.
                log.exception("scheduler tick failed")
            await asyncio.sleep(tick_seconds)

    async def tick(self) -> int:
        """Starts the workflows whose current interval has no run yet; answers how many started."""
        started = 0
        now = self.clock()
        for workflow in await self.store.scheduled_workflows():
            if workflow["kind"] != "record-count":
                continue
            interval = workflow["schedule_seconds"]
            slot = int(now // interval)
            key = f"automation:schedule:{workflow['id']}:{slot}"
            if await self.redis.set(key, 1, nx=True, ex=interval * 2):
                run = await start_run(self.store, self.queue, workflow)
                log.info("scheduled run started", workflow=workflow["id"], run=run["id"])
                started += 1
        return started
