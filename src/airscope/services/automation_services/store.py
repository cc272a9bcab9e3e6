"""What automation-services keeps in PostgreSQL: uploaded files (content included) and their row
errors, workflows, their runs, and the answers given to idempotent requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from airscope.services.common import datastores

# Five tables that only gain columns rarely: created on first connection if missing; a migration
# tool would cost more than this schema will ever change.
SCHEMA = """
CREATE TABLE IF NOT EXISTS automation_workflows (
    id text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    workspace_id text,
    schedule_seconds integer,
    config jsonb NOT NULL DEFAULT '{}',
    builtin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE TABLE IF NOT EXISTS automation_workflow_runs (
    id text PRIMARY KEY,
    workflow_id text NOT NULL REFERENCES automation_workflows (id),
    status text NOT NULL DEFAULT 'running',
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS automation_workflow_runs_history
    ON automation_workflow_runs (workflow_id, started_at DESC);
CREATE TABLE IF NOT EXISTS automation_files (
    id text PRIMARY KEY,
    filename text NOT NULL,
    type text NOT NULL,
    base_id text NOT NULL,
    table_name text NOT NULL,
    content bytea NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    rows_total integer NOT NULL,
    rows_imported integer NOT NULL DEFAULT 0,
    rows_failed integer NOT NULL DEFAULT 0,
    -- Rows handled so far, committed with their outcome: a retried job resumes here.
    next_row integer NOT NULL DEFAULT 0,
    run_id text REFERENCES automation_workflow_runs (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS automation_file_errors (
    file_id text NOT NULL REFERENCES automation_files (id) ON DELETE CASCADE,
    row_no integer NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (file_id, row_no)
);
CREATE TABLE IF NOT EXISTS automation_idempotency_keys (
    key text PRIMARY KEY,
    request_hash text NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

# The built-ins keep fixed ids (their names); start-up settings win over what an earlier
# start stored.
BUILTINS = """
INSERT INTO automation_workflows (id, name, kind, schedule_seconds, config, builtin)
VALUES ('csv-import', 'csv-import', 'csv-import', NULL, '{}', true),
       ('record-count', 'record-count', 'record-count', $1, $2, true)
ON CONFLICT (id) DO UPDATE
    SET schedule_seconds = EXCLUDED.schedule_seconds, config = EXCLUDED.config, deleted_at = NULL
"""

TERMINAL_FILE_STATUSES = ("completed", "partial", "failed")
# The most errors a file's answer lists; rows_failed counts them all.
MAX_ERRORS_SHOWN = 1000
FILE_LEVEL_ROW = 0  # an error about the whole file (its table is missing, the job gave up)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


def new_id() -> str:
    return uuid.uuid4().hex


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def create_pool(
    dsn: str, *, record_count_interval_seconds: int, record_count_base_id: str
) -> asyncpg.Pool:
    """The pool, its first connection creating the schema and the built-in workflows."""
    builtins = (BUILTINS, (record_count_interval_seconds, {"base_id": record_count_base_id}))
    return await datastores.create_pool(dsn, datastores.SchemaOnce("automation_schema", [SCHEMA, builtins]))


@dataclass(frozen=True)
class ImportState:
    """A file as its import (re)starts."""

    id: str
    type: str
    base_id: str
    table: str
    content: bytes
    next_row: int
    started_at: datetime


def _workflow(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "workspace_id": row["workspace_id"],
        "schedule_seconds": row["schedule_seconds"],
        "config": row["config"],
        "builtin": row["builtin"],
        "created_at": _iso(row["created_at"]),
        "deleted_at": _iso(row["deleted_at"]),
    }


def _run(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "status": row["status"],
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "detail": row["detail"],
    }


class Store:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # -- files -------------------------------------------------------------------------------

    async def create_file(
        self, *, filename: str, file_type: str, base_id: str, table: str, content: bytes, rows_total: int
    ) -> str:
        file_id = new_id()
        async with self.pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO automation_files (id, filename, type, base_id, table_name, content, rows_total)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                *(file_id, filename, file_type, base_id, table, content, rows_total),
            )
        return file_id

    async def delete_file(self, file_id: str) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute("DELETE FROM automation_files WHERE id = $1", file_id)

    async def file(self, file_id: str) -> dict[str, Any] | None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT id, filename, type, status, base_id, table_name, rows_total, rows_imported, rows_failed,"
                " created_at, started_at, finished_at FROM automation_files WHERE id = $1",
                file_id,
            )
            if row is None:
                return None
            errors = await connection.fetch(
                "SELECT row_no, message FROM automation_file_errors WHERE file_id = $1 ORDER BY row_no LIMIT $2",
                file_id,
                MAX_ERRORS_SHOWN,
            )
        return {
            "id": row["id"],
            "filename": row["filename"],
            "type": row["type"],
            "status": row["status"],
            "base_id": row["base_id"],
            "table": row["table_name"],
            "rows_total": row["rows_total"],
            "rows_imported": row["rows_imported"],
            "rows_failed": row["rows_failed"],
            "errors": [{"row": error["row_no"], "message": error["message"]} for error in errors],
            "created_at": _iso(row["created_at"]),
            "started_at": _iso(row["started_at"]),
            "finished_at": _iso(row["finished_at"]),
        }

    async def start_import(self, file_id: str) -> ImportState | None:
        """Marks the file processing (its csv-import run starts with the first attempt); None when
        the file is unknown or already finished (a job delivered twice)."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT status, run_id FROM automation_files WHERE id = $1 FOR UPDATE", file_id
            )
            if row is None or row["status"] in TERMINAL_FILE_STATUSES:
                return None
            run_id = row["run_id"]
            if run_id is None:
                run_id = new_id()
                await connection.execute(
                    "INSERT INTO automation_workflow_runs (id, workflow_id, detail) VALUES ($1, 'csv-import', $2)",
                    run_id,
                    {"file_id": file_id},
                )
            state = await connection.fetchrow(
                "UPDATE automation_files SET status = 'processing', run_id = $2,"
                " started_at = coalesce(started_at, now()) WHERE id = $1"
                " RETURNING id, type, base_id, table_name, content, next_row, started_at",
                file_id,
                run_id,
            )
        return ImportState(
            id=state["id"],
            type=state["type"],
            base_id=state["base_id"],
            table=state["table_name"],
            content=bytes(state["content"]),
            next_row=state["next_row"],
            started_at=state["started_at"],
        )

    async def record_batch(
        self, file_id: str, *, next_row: int, imported: int, errors: list[tuple[int, str]]
    ) -> None:
        """One batch's outcome and the new resume point, together."""
        async with self.pool.acquire() as connection, connection.transaction():
            if errors:
                await connection.executemany(
                    "INSERT INTO automation_file_errors (file_id, row_no, message) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    [(file_id, row, message) for row, message in errors],
                )
            await connection.execute(
                "UPDATE automation_files SET next_row = $2, rows_imported = rows_imported + $3,"
                " rows_failed = rows_failed + $4 WHERE id = $1",
                *(file_id, next_row, imported, len(errors)),
            )

    async def finish_import(self, file_id: str, *, error: str | None = None) -> dict[str, Any] | None:
        """Ends the import (completed, partial or failed from its counts; failed when ``error``)
        and its run; answers the file's final counts, or None when it had ended already."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT status, rows_imported, rows_failed FROM automation_files WHERE id = $1 FOR UPDATE",
                file_id,
            )
            if row is None or row["status"] in TERMINAL_FILE_STATUSES:
                return None
            if error is not None:
                status = "failed"
                await connection.execute(
                    "INSERT INTO automation_file_errors (file_id, row_no, message) VALUES ($1, $2, $3)"
                    " ON CONFLICT (file_id, row_no) DO UPDATE SET message = EXCLUDED.message",
                    *(file_id, FILE_LEVEL_ROW, error),
                )
            elif row["rows_failed"] == 0:
                status = "completed"
            else:
                status = "partial" if row["rows_imported"] > 0 else "failed"
            final = await connection.fetchrow(
                "UPDATE automation_files SET status = $2, finished_at = now(),"
                " started_at = coalesce(started_at, now()) WHERE id = $1"
                " RETURNING type, status, rows_imported, rows_failed, run_id, started_at, finished_at",
                file_id,
                status,
            )
            detail = {
                "file_id": file_id,
                "file_status": status,
                "rows_imported": final["rows_imported"],
                "rows_failed": final["rows_failed"],
            }
            if error is not None:
                detail["error"] = error
            if final["run_id"] is not None:
                await connection.execute(
                    "UPDATE automation_workflow_runs SET status = $2, finished_at = now(), detail = $3"
                    " WHERE id = $1",
                    final["run_id"],
                    "failed" if status == "failed" else "succeeded",
                    detail,
                )
        return dict(final)

    # -- an operator's replay of a dead letter ----------------------------------------------

    async def reopen(self, queue: str, item_id: str) -> str | None:
        """Puts the failed file (queue ``imports``) or run (``runs``) of a dead-lettered job back to
        be done again; None when it did, else why not: the status it has, or "missing".

        A file resumes after its last committed batch (the rows imported stay imported, no
        duplicates), its give-up error goes and its duration starts again; its csv-import run
        runs again with it."""
        async with self.pool.acquire() as connection, connection.transaction():
            if queue == "imports":
                table, reset = "automation_files", ", started_at = NULL"
            else:
                table, reset = "automation_workflow_runs", ""
            status = await connection.fetchval(
                f"SELECT status FROM {table} WHERE id = $1 FOR UPDATE", item_id
            )
            if status != "failed":
                return status or "missing"
            reopened = "queued" if queue == "imports" else "running"
            run_id = await connection.fetchval(
                f"UPDATE {table} SET status = $2, finished_at = NULL{reset} WHERE id = $1"
                f" RETURNING {'run_id' if queue == 'imports' else 'id'}",
                item_id,
                reopened,
            )
            if queue == "imports":
                await connection.execute(
                    "DELETE FROM automation_file_errors WHERE file_id = $1 AND row_no = $2",
                    item_id,
                    FILE_LEVEL_ROW,
                )
                if run_id is not None:
                    await connection.execute(
                        "UPDATE automation_workflow_runs SET status = 'running', finished_at = NULL WHERE id = $1",
                        run_id,
                    )
        return None

    async def dead_letter_subjects(self, queue: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What each dead-lettered job was about, by id: its file's or run's status and error."""
        async with self.pool.acquire() as connection:
            if queue == "imports":
                rows = await connection.fetch(
                    "SELECT f.id, f.status, e.message AS error,"
                    " f.filename || ' into ' || f.base_id || '/' || f.table_name AS about"
                    " FROM automation_files f LEFT JOIN automation_file_errors e"
                    "   ON e.file_id = f.id AND e.row_no = $2"
                    " WHERE f.id = ANY($1::text[])",
                    item_ids,
                    FILE_LEVEL_ROW,
                )
            else:
                rows = await connection.fetch(
                    "SELECT id, status, detail->>'error' AS error, 'workflow ' || workflow_id AS about"
                    " FROM automation_workflow_runs WHERE id = ANY($1::text[])",
                    item_ids,
                )
        return {
            row["id"]: {"status": row["status"], "about": row["about"], "error": row["error"]} for row in rows
        }

    # -- workflows ---------------------------------------------------------------------------

    async def workflows(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM automation_workflows WHERE deleted_at IS NULL ORDER BY builtin DESC, created_at"
            )
        return [_workflow(row) for row in rows]

    async def scheduled_workflows(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM automation_workflows WHERE deleted_at IS NULL AND schedule_seconds IS NOT NULL"
            )
        return [_workflow(row) for row in rows]

    async def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        """The workflow, deleted ones included (their run history stays readable)."""
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow("SELECT * FROM automation_workflows WHERE id = $1", workflow_id)
        return _workflow(row) if row is not None else None

    async def create_workflow(
        self, fields: dict[str, Any], *, idempotency_key: str | None, request_hash: str
    ) -> dict[str, Any]:
        """Creates a workflow; with a key, a repeated request answers the first one's workflow.

        The key's answer is stored in the same transaction as the workflow, under an advisory
        lock on the key, so concurrent retries cannot both create one."""
        async with self.pool.acquire() as connection, connection.transaction():
            if idempotency_key is not None:
                await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", idempotency_key)
                seen = await connection.fetchrow(
                    "SELECT request_hash, response FROM automation_idempotency_keys WHERE key = $1",
                    idempotency_key,
                )
                if seen is not None:
                    if seen["request_hash"] != request_hash:
                        raise IdempotencyConflict(idempotency_key)
                    return seen["response"]
            row = await connection.fetchrow(
                "INSERT INTO automation_workflows (id, name, kind, workspace_id, schedule_seconds, config)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                new_id(),
                fields["name"],
                fields["kind"],
                fields.get("workspace_id"),
                fields.get("schedule_seconds"),
                fields.get("config") or {},
            )
            workflow = _workflow(row)
            if idempotency_key is not None:
                await connection.execute(
                    "INSERT INTO automation_idempotency_keys (key, request_hash, response) VALUES ($1, $2, $3)",
                    idempotency_key,
                    request_hash,
                    workflow,
                )
        return workflow

    async def delete_workflow(self, workflow_id: str) -> None:
        """Soft delete (the run history stays); deleting a deleted or unknown one changes nothing."""
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE automation_workflows SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
                workflow_id,
            )

    # -- runs --------------------------------------------------------------------------------

    async def create_run(self, workflow_id: str) -> dict[str, Any]:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                "INSERT INTO automation_workflow_runs (id, workflow_id) VALUES ($1, $2) RETURNING *",
                new_id(),
                workflow_id,
            )
        return _run(row)

    async def delete_run(self, run_id: str) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute("DELETE FROM automation_workflow_runs WHERE id = $1", run_id)

    async def running_run(self, run_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A run still to be done and its workflow; None when unknown or ended (delivered twice)."""
        async with self.pool.acquire() as connection:
            run = await connection.fetchrow(
                "SELECT * FROM automation_workflow_runs WHERE id = $1 AND status = 'running'", run_id
            )
            if run is None:
                return None
            workflow = await connection.fetchrow(
                "SELECT * FROM automation_workflows WHERE id = $1", run["workflow_id"]
            )
        return _run(run), _workflow(workflow)

    async def finish_run(self, run_id: str, status: str, detail: dict[str, Any]) -> bool:
        """Ends a running run; False when it had ended already."""
        async with self.pool.acquire() as connection:
            result = await connection.execute(
                "UPDATE automation_workflow_runs SET status = $2, finished_at = now(), detail = $3"
                " WHERE id = $1 AND status = 'running'",
                run_id,
                status,
                detail,
            )
        return result.endswith(" 1")

    async def runs(self, workflow_id: str, limit: int) -> list[dict[str, Any]]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM automation_workflow_runs WHERE workflow_id = $1"
                " ORDER BY started_at DESC, id LIMIT $2",
                workflow_id,
                limit,
            )
        return [_run(row) for row in rows]
