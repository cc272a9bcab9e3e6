"""Sagas and their steps in PostgreSQL: every change of state is written before the next action runs.

A saga row holds its status, its input and who runs it: ``owner`` (a process's random id) and
``lease_expires_at``, which the owner keeps renewing. A process that dies stops renewing, and any
live process claims the saga once its lease has expired and carries it on from what is written
here. Every write is fenced by the owner: a process that lost its saga to another (it stalled past
its lease) finds its update matching no row, gets ``LeaseLost`` and stops, so one saga never has
two drivers for long.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import asyncpg

from airscope.services.common import datastores

# Saga statuses; running and compensating are the unfinished ones a process may resume. Closed is a
# failed saga an operator cleaned up by hand and closed with a note (`airscope sagas close`).
RUNNING, COMPENSATING, COMPLETED, COMPENSATED, FAILED, CLOSED = (
    "running",
    "compensating",
    "completed",
    "compensated",
    "failed",
    "closed",
)
SagaStatus = Literal["running", "compensating", "completed", "compensated", "failed", "closed"]
SAGA_STATUSES = get_args(SagaStatus)
UNFINISHED = (RUNNING, COMPENSATING)
# Step statuses.
PENDING, DONE, STEP_FAILED, STEP_COMPENSATED, COMPENSATION_FAILED = (
    "pending",
    "done",
    "failed",
    "compensated",
    "compensation_failed",
)

# Created on first connection if missing (like every service here that owns a few tables).
SCHEMA = """
CREATE TABLE IF NOT EXISTS sagas (
    id uuid PRIMARY KEY,
    saga text NOT NULL,
    status text NOT NULL,
    input jsonb NOT NULL,
    error text,
    owner text,
    lease_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS sagas_unfinished ON sagas (lease_expires_at) WHERE status IN ('running', 'compensating');
CREATE INDEX IF NOT EXISTS sagas_created ON sagas (created_at DESC);
CREATE TABLE IF NOT EXISTS saga_steps (
    saga_id uuid NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    compensation_attempts integer NOT NULL DEFAULT 0,
    result jsonb,
    error text,
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_id, position),
    UNIQUE (saga_id, name)
);
-- An operator's handling of a failed saga: when its compensations were started again by hand (the
-- engine then counts its end as a clean-up, not as a saga run), and the note it was closed with.
ALTER TABLE sagas ADD COLUMN IF NOT EXISTS reopened_at timestamptz;
ALTER TABLE sagas ADD COLUMN IF NOT EXISTS note text;
"""

MAX_ERROR_CHARS = 1000
MAX_NOTE_CHARS = 1000


class LeaseLost(Exception):
    """Another process owns the saga now; this one must stop driving it."""


@dataclass
class StepState:
    name: str
    status: str
    attempts: int
    compensation_attempts: int
    result: dict[str, Any] | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "attempts": self.attempts,
            "compensation_attempts": self.compensation_attempts,
            "error": self.error,
            "result": self.result,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass
class SagaState:
    id: str
    saga: str
    status: str
    input: dict[str, Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    steps: list[StepState]
    reopened_at: datetime | None = None
    note: str | None = None

    def step(self, name: str) -> StepState:
        return next(step for step in self.steps if step.name == name)

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "saga": self.saga,
            "status": self.status,
            "input": self.input,
            "error": self.error,
            "steps": [step.to_json() for step in self.steps],
            "created_at": _iso(self.created_at),
            "finished_at": _iso(self.finished_at),
            "reopened_at": _iso(self.reopened_at),
            "note": self.note,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _error(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]


async def create_pool(dsn: str) -> asyncpg.Pool:
    return await datastores.create_pool(dsn, datastores.SchemaOnce("saga_schema", [SCHEMA]))


class Store:
    def __init__(self, pool: asyncpg.Pool, owner: str, lease_seconds: float) -> None:
        self.pool = pool
        self.owner = owner
        self.lease_seconds = lease_seconds

    # -- reading ----------------------------------------------------------------------------------

    async def get(self, saga_id: str) -> SagaState | None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow("SELECT * FROM sagas WHERE id = $1", uuid.UUID(saga_id))
            if row is None:
                return None
            steps = await connection.fetch(
                "SELECT * FROM saga_steps WHERE saga_id = $1 ORDER BY position", row["id"]
            )
        return _saga(row, steps)

    async def list(self, status: str | None, limit: int) -> list[SagaState]:
        """The newest sagas first, optionally only those with ``status``."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM sagas WHERE $1::text IS NULL OR status = $1 ORDER BY created_at DESC LIMIT $2",
                status,
                limit,
            )
            steps = await connection.fetch(
                "SELECT * FROM saga_steps WHERE saga_id = ANY($1::uuid[]) ORDER BY position",
                [row["id"] for row in rows],
            )
        by_saga: dict[uuid.UUID, list[asyncpg.Record]] = {}
        for step in steps:
            by_saga.setdefault(step["saga_id"], []).append(step)
        return [_saga(row, by_saga.get(row["id"], [])) for row in rows]

    async def failed_by_saga(self) -> dict[str, int]:
        """How many sagas of each name ended failed and are still waiting for an operator."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT saga, count(*) AS n FROM sagas WHERE status = $1 GROUP BY saga", FAILED
            )
        return {row["saga"]: row["n"] for row in rows}

    # -- an operator's clean-up -------------------------------------------------------------------

    async def reopen(self, saga_id: str) -> bool:
        """A failed saga, compensating again and owned by this process: its steps whose undo failed
        are done again (their results kept), so the engine undoes them once more. False when the
        saga is not failed (another operator reopened or closed it first)."""
        async with self.pool.acquire() as connection, connection.transaction():
            reopened = await connection.fetchval(
                "UPDATE sagas SET status = $2, owner = $3, lease_expires_at = now() + make_interval(secs => $4),"
                " reopened_at = now(), finished_at = NULL, updated_at = now()"
                " WHERE id = $1 AND status = $5 RETURNING 1",
                uuid.UUID(saga_id),
                COMPENSATING,
                self.owner,
                self.lease_seconds,
                FAILED,
            )
            if reopened is None:
                return False
            await connection.execute(
                "UPDATE saga_steps SET status = $2, updated_at = now() WHERE saga_id = $1 AND status = $3",
                uuid.UUID(saga_id),
                DONE,
                COMPENSATION_FAILED,
            )
        return True

    async def close(self, saga_id: str, note: str) -> bool:
        """A failed saga an operator cleaned up by hand ends closed, with their note; False when it
        is not failed."""
        async with self.pool.acquire() as connection:
            closed = await connection.fetchval(
                "UPDATE sagas SET status = $2, note = $3, updated_at = now() WHERE id = $1 AND status = $4 RETURNING 1",
                uuid.UUID(saga_id),
                CLOSED,
                note[:MAX_NOTE_CHARS],
                FAILED,
            )
        return closed is not None

    # -- a saga's life ----------------------------------------------------------------------------

    async def create(self, saga: str, saga_input: dict[str, Any], steps: list[str]) -> SagaState:
        """A new saga, owned by this process, every step pending."""
        saga_id = uuid.uuid4()
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO sagas (id, saga, status, input, owner, lease_expires_at)"
                " VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
                saga_id,
                saga,
                RUNNING,
                saga_input,
                self.owner,
                self.lease_seconds,
            )
            await connection.executemany(
                "INSERT INTO saga_steps (saga_id, position, name, status) VALUES ($1, $2, $3, $4)",
                [(saga_id, position, name, PENDING) for position, name in enumerate(steps)],
            )
        state = await self.get(str(saga_id))
        assert state is not None
        return state

    async def step_started(self, saga_id: str, step: str) -> None:
        """An attempt of the step is about to run (so a crash now re-runs it on resume)."""
        await self._step(
            saga_id,
            step,
            "status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now())",
        )

    async def step_retrying(self, saga_id: str, step: str, error: str) -> None:
        await self._step(saga_id, step, "error = $4", _error(error))

    async def step_done(self, saga_id: str, step: str, result: dict[str, Any]) -> None:
        await self._step(
            saga_id, step, "status = 'done', result = $4, error = NULL, finished_at = now()", result
        )

    async def step_failed(self, saga_id: str, step: str, error: str) -> None:
        """The step gave up: it is failed and the saga compensating, in one transaction."""
        async with self.pool.acquire() as connection, connection.transaction():
            await self._fenced_saga(connection, saga_id, "status = 'compensating', error = $3", _error(error))
            await self._fenced_step(
                connection, saga_id, step, "status = 'failed', error = $4, finished_at = now()", _error(error)
            )

    async def compensation_started(self, saga_id: str, step: str) -> None:
        await self._step(saga_id, step, "compensation_attempts = compensation_attempts + 1")

    async def compensation_retrying(self, saga_id: str, step: str, error: str) -> None:
        await self._step(saga_id, step, "error = $4", _error(error))

    async def step_compensated(self, saga_id: str, step: str) -> None:
        await self._step(saga_id, step, "status = 'compensated', error = NULL")

    async def compensation_failed(self, saga_id: str, step: str, error: str) -> None:
        await self._step(saga_id, step, "status = 'compensation_failed', error = $4", _error(error))

    async def finish(self, saga_id: str, status: str) -> float:
        """The saga ended with ``status``; answers how long it took, in seconds."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "UPDATE sagas SET status = $3, owner = NULL, lease_expires_at = NULL, finished_at = now(),"
                " updated_at = now() WHERE id = $1 AND owner = $2"
                " RETURNING extract(epoch FROM finished_at - created_at)::float8 AS seconds",
                uuid.UUID(saga_id),
                self.owner,
                status,
            )
        if row is None:
            raise LeaseLost(saga_id)
        return row["seconds"]

    # -- ownership --------------------------------------------------------------------------------

    async def renew(self, saga_ids: list[str]) -> None:
        """Extends this process's lease on the sagas it is driving."""
        if not saga_ids:
            return
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE sagas SET lease_expires_at = now() + make_interval(secs => $3)"
                " WHERE id = ANY($1::uuid[]) AND owner = $2",
                [uuid.UUID(saga_id) for saga_id in saga_ids],
                self.owner,
                self.lease_seconds,
            )

    async def claim_abandoned(self, limit: int = 100) -> list[str]:
        """Takes over unfinished sagas whose lease expired (their process died); answers their ids."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "UPDATE sagas SET owner = $1, lease_expires_at = now() + make_interval(secs => $2),"
                " updated_at = now()"
                " WHERE id IN (SELECT id FROM sagas WHERE status IN ('running', 'compensating')"
                "   AND (lease_expires_at IS NULL OR lease_expires_at < now())"
                "   ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
                " RETURNING id",
                self.owner,
                self.lease_seconds,
                limit,
            )
        return [str(row["id"]) for row in rows]

    async def release(self, saga_ids: list[str]) -> None:
        """Lets the next process resume these sagas at once (a graceful stop in the middle of them)."""
        if not saga_ids:
            return
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE sagas SET lease_expires_at = now() WHERE id = ANY($1::uuid[]) AND owner = $2",
                [uuid.UUID(saga_id) for saga_id in saga_ids],
                self.owner,
            )

    # -- the machinery ----------------------------------------------------------------------------

    async def _step(self, saga_id: str, step: str, assignments: str, *values: Any) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            await self._fenced_step(connection, saga_id, step, assignments, *values)

    async def _fenced_step(
        self, connection: asyncpg.Connection, saga_id: str, step: str, assignments: str, *values: Any
    ) -> None:
        # $1 saga, $2 step, $3 owner; the assignments' own values start at $4.
        updated = await connection.fetchval(
            f"UPDATE saga_steps AS s SET {assignments}, updated_at = now() FROM sagas AS g"
            " WHERE s.saga_id = $1 AND s.name = $2 AND g.id = s.saga_id AND g.owner = $3 RETURNING 1",
            uuid.UUID(saga_id),
            step,
            self.owner,
            *values,
        )
        if updated is None:
            raise LeaseLost(saga_id)

    async def _fenced_saga(
        self, connection: asyncpg.Connection, saga_id: str, assignments: str, *values: Any
    ) -> None:
        updated = await connection.fetchval(
            f"UPDATE sagas SET {assignments}, updated_at = now() WHERE id = $1 AND owner = $2 RETURNING 1",
            uuid.UUID(saga_id),
            self.owner,
            *values,
        )
        if updated is None:
            raise LeaseLost(saga_id)


def _saga(row: asyncpg.Record, steps: list[asyncpg.Record]) -> SagaState:
    return SagaState(
        id=str(row["id"]),
        saga=row["saga"],
        status=row["status"],
        input=row["input"],
        error=row["error"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        reopened_at=row["reopened_at"],
        note=row["note"],
        steps=[
            StepState(
                name=step["name"],
                status=step["status"],
                attempts=step["attempts"],
                compensation_attempts=step["compensation_attempts"],
                result=step["result"],
                error=step["error"],
                started_at=step["started_at"],
                finished_at=step["finished_at"],
            )
            for step in steps
        ],
    )
