"""automation-services: file imports into Airtable and workflows, done by workers of Redis job queues.

Routes:
  POST   /files                    multipart: file (CSV or JSON array of objects), base_id, table → 202
  GET    /files/{file_id}          the import's status, counts and row errors
  GET    /workflows                the workflows (built-ins first)
  POST   /workflows                {"name", "kind", "workspace_id"?, "schedule_seconds"?, "config"?}
                                   (Idempotency-Key honoured) → 201
  GET    /workflows/{workflow_id}
  DELETE /workflows/{workflow_id}  → 204, idempotent
  POST   /workflows/{workflow_id}/runs  → 202 a run
  GET    /workflows/{workflow_id}/runs  the run history, newest first

Operators' routes (api-gateway serves them as /api/admin/jobs..., to API keys only):
  GET    /admin/jobs                          ?queue=imports|runs: the dead-lettered jobs, newest first,
                                              with their file's or run's status and error
  POST   /admin/jobs/{queue}/{job_id}/replay  reopens the failed file or run and queues the job anew
                                              -> 200; 409 when its file or run is not failed
  DELETE /admin/jobs/{queue}/{job_id}         drops the dead letter (its file or run stays failed) -> 200
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

import httpx
import orjson
import redis.asyncio
import redis.exceptions
from fastapi import APIRouter, FastAPI, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

import airscope
from airscope.services.automation_services import metrics, store
from airscope.services.automation_services.config import Config
from airscope.services.automation_services.parsing import ParseError, detect_type, parse
from airscope.services.automation_services.queue import Job, Queue, consume, maintain
from airscope.services.automation_services.store import IdempotencyConflict, Store
from airscope.services.automation_services.worker import Gateway, Importer
from airscope.services.automation_services.workflows import NotRunnable, Runner, Scheduler, start_run
from airscope.services.common import (
    ActivityReporter,
    ServiceError,
    errors,
    http_clients,
    install_error_handlers,
)
from airscope.services.common import redis_client as redis_client_module
from airscope.services.common.background import refresh_gauges, stop
from airscope.services.common.datastores import dependency_errors
from airscope.services.common.storable import STORABLE, problem, trimmed_text
from airscope.telemetry import get_logger, http_check, instrument, postgres_check, redis_check

log = get_logger(__name__)

SERVICE = "automation-services"
BASE_ID = re.compile(r"^app[A-Za-z0-9]{14}$")
MAX_TABLE_CHARS = 255
MAX_FILENAME_CHARS = 255
# Room for the multipart boundaries, part headers and the two small form fields around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
GAUGE_REFRESH_SECONDS = 2.0

# The upload reads its form itself (size limits before parsing), so FastAPI cannot describe it.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "base_id", "table"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "a CSV or JSON file"},
                        "base_id": {"type": "string", "description": "the Airtable base to import into"},
                        "table": {"type": "string", "description": "the table to import into"},
                    },
                }
            }
        },
    }
}

ResourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


WorkflowName = trimmed_text(100)


class NewWorkflow(BaseModel):
    name: WorkflowName
    kind: Literal["csv-import", "record-count"]
    workspace_id: Annotated[str, StringConstraints(min_length=1, max_length=128), STORABLE] | None = None
    schedule_seconds: Annotated[int, Field(ge=5, le=7 * 24 * 3600)] | None = None
    config: Annotated[dict[str, Any], STORABLE] = Field(default_factory=dict)

    @field_validator("config")
    @classmethod
    def _base_id_shape(cls, config: dict[str, Any]) -> dict[str, Any]:
        base_id = config.get("base_id")
        if base_id is not None and not (isinstance(base_id, str) and BASE_ID.match(base_id)):
            raise ValueError("base_id must be an Airtable base id (app + 14 letters or digits)")
        return config


def _invalid(message: str) -> ServiceError:
    return ServiceError(422, "invalid_request", message)


def _too_large(limit: int) -> ServiceError:
    return ServiceError(413, "file_too_large", f"the file is larger than the limit of {limit} bytes")


def _found(value: dict[str, Any] | None, missing: str) -> dict[str, Any]:
    if value is None:
        raise ServiceError(404, "not_found", missing)
    return value


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"the form field {name!r} is required")
    if (found := problem(value)) is not None:
        raise _invalid(f"the form field {name!r}: {found}")
    return value.strip()


async def _queue_gauges(queue: Queue) -> None:
    metrics.QUEUE_DEPTH.labels(queue.name).set(await queue.depth())
    metrics.QUEUE_OLDEST_JOB_AGE.labels(queue.name).set(await queue.oldest_age_seconds())
    metrics.DEAD_LETTERS.labels(queue.name).set(await queue.dead_count())


def _lifespan(
    config: Config, redis_client: redis.asyncio.Redis, client: httpx.AsyncClient
) -> Callable[[FastAPI], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await store.create_pool(
            config.database_url,
            record_count_interval_seconds=config.record_count_interval_seconds,
            record_count_base_id=config.record_count_base_id,
        )
        data = Store(pool)
        queue_options = {
            "max_attempts": config.max_job_attempts,
            "backoff_seconds": config.retry_backoff_seconds,
        }
        imports = Queue(redis_client, "imports", **queue_options)
        runs = Queue(redis_client, "runs", consumer=imports.consumer, **queue_options)
        # Closed, not "opened" here: the kit's health loop may have used it already.
        async with contextlib.aclosing(client):
            gateway = Gateway(client, config.airtable_gateway_url, config.gateway_timeout_seconds)
            importer = Importer(data, gateway, config.batch_size)
            runner = Runner(data, gateway, config.record_count_base_id)
            app.state.store = data
            app.state.imports = imports
            app.state.runs = runs
            app.state.activity = ActivityReporter(client, config.platform_url)
            background = [
                *(asyncio.create_task(consume(imports, importer)) for _ in range(config.workers)),
                *(asyncio.create_task(consume(runs, runner)) for _ in range(config.workers)),
                asyncio.create_task(maintain([imports, runs])),
                *(
                    asyncio.create_task(
                        refresh_gauges(
                            partial(_queue_gauges, queue), GAUGE_REFRESH_SECONDS, log, queue=queue.name
                        )
                    )
                    for queue in (imports, runs)
                ),
                asyncio.create_task(Scheduler(data, redis_client, runs).run()),
            ]
            try:
                yield
            finally:
                await stop(background)
                for queue in (imports, runs):
                    with contextlib.suppress(redis.exceptions.RedisError):
                        await queue.leave()
                await app.state.activity.drain()
        await pool.close()
        await redis_client.aclose()

    return lifespan


files = APIRouter()


@files.post("/files", status_code=202, responses=errors(413, 415, 422), openapi_extra=UPLOAD_BODY)
async def upload(request: Request) -> dict[str, Any]:
    limit = request.app.state.config.max_upload_bytes
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD_BYTES:
        raise _too_large(limit)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except HTTPException as exc:
        raise _invalid(f"the body is not valid multipart/form-data: {exc.detail}") from None
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise _invalid("the form field 'file' (the CSV or JSON file) is required")
        content = await part.read(limit + 1)
        if len(content) > limit:
            raise _too_large(limit)
        file_type = detect_type(part.filename, part.content_type)
        if file_type is None:
            raise ServiceError(
                415,
                "unsupported_type",
                "only CSV (.csv, text/csv) and JSON (.json, application/json) import",
            )
        base_id = _form_text(form, "base_id")
        if not BASE_ID.match(base_id):
            raise _invalid("base_id must be an Airtable base id (app + 14 letters or digits)")
        table = _form_text(form, "table")
        if len(table) > MAX_TABLE_CHARS:
            raise _invalid(f"table must be at most {MAX_TABLE_CHARS} characters")
        filename = (part.filename or f"upload.{file_type}")[:MAX_FILENAME_CHARS]
        if (found := problem(filename)) is not None:
            raise _invalid(f"the file name: {found}")
    finally:
        await form.close()
    try:
        parsed = parse(content, file_type)
    except ParseError as exc:
        raise _invalid(f"{filename}: {exc}") from None
    with dependency_errors():
        file_id = await request.app.state.store.create_file(
            filename=filename,
            file_type=file_type,
            base_id=base_id,
            table=table,
            content=content,
            rows_total=len(parsed.rows),
        )
        try:
            await request.app.state.imports.enqueue(file_id)
        except redis.exceptions.RedisError:
            await request.app.state.store.delete_file(file_id)
            raise
    log.info("file queued", file=file_id, type=file_type, rows=len(parsed.rows), bytes=len(content))
    request.app.state.activity.report("upload", request.headers.get("x-client-id"))
    return {
        "id": file_id,
        "filename": filename,
        "type": file_type,
        "status": "queued",
        "base_id": base_id,
        "table": table,
    }


@files.get("/files/{file_id}", responses=errors(404))
async def file_status(file_id: ResourceId, request: Request) -> dict[str, Any]:
    with dependency_errors():
        return _found(await request.app.state.store.file(file_id), f"no file {file_id}")


workflows = APIRouter()


@workflows.get("/workflows")
async def list_workflows(request: Request) -> list[dict[str, Any]]:
    with dependency_errors():
        return await request.app.state.store.workflows()


@workflows.post("/workflows", status_code=201, responses=errors(409))
async def create_workflow(
    body: NewWorkflow,
    request: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> dict[str, Any]:
    if body.kind == "csv-import" and body.schedule_seconds is not None:
        raise _invalid("a csv-import workflow runs on upload and cannot have schedule_seconds")
    fields = body.model_dump()
    request_hash = hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()
    key = f"POST /workflows:{idempotency_key}" if idempotency_key else None
    try:
        with dependency_errors():
            return await request.app.state.store.create_workflow(
                fields, idempotency_key=key, request_hash=request_hash
            )
    except IdempotencyConflict:
        raise ServiceError(
            409, "idempotency_key_reused", "this Idempotency-Key was used with a different request"
        ) from None


async def _workflow(request: Request, workflow_id: str) -> dict[str, Any]:
    with dependency_errors():
        return _found(await request.app.state.store.workflow(workflow_id), f"no workflow {workflow_id}")


@workflows.get("/workflows/{workflow_id}", responses=errors(404))
async def get_workflow(workflow_id: ResourceId, request: Request) -> dict[str, Any]:
    return await _workflow(request, workflow_id)


@workflows.delete("/workflows/{workflow_id}", status_code=204, responses=errors(409))
async def delete_workflow(workflow_id: ResourceId, request: Request) -> Response:
    with dependency_errors():
        workflow = await request.app.state.store.workflow(workflow_id)
        if workflow is not None and workflow["builtin"]:
            raise ServiceError(
                409, "builtin_workflow", f"the built-in workflow {workflow_id} cannot be deleted"
            )
        # Unknown or already deleted: nothing to do, and the same answer, so a compensation
        # that is retried succeeds.
        await request.app.state.store.delete_workflow(workflow_id)
    return Response(status_code=204)


@workflows.post("/workflows/{workflow_id}/runs", status_code=202, responses=errors(404, 409))
async def run_workflow(workflow_id: ResourceId, request: Request) -> dict[str, Any]:
    workflow = await _workflow(request, workflow_id)
    if workflow["deleted_at"] is not None:
        raise ServiceError(404, "not_found", f"the workflow {workflow_id} was deleted")
    try:
        with dependency_errors():
            run = await start_run(request.app.state.store, request.app.state.runs, workflow)
    except NotRunnable as exc:
        raise ServiceError(409, "not_runnable", str(exc)) from None
    log.info("run started", workflow=workflow_id, run=run["id"])
    return run


@workflows.get("/workflows/{workflow_id}/runs", responses=errors(404))
async def workflow_runs(
    workflow_id: ResourceId, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    await _workflow(request, workflow_id)
    with dependency_errors():
        return await request.app.state.store.runs(workflow_id, limit)


admin = APIRouter(prefix="/admin")
QueueName = Literal["imports", "runs"]
# What a job's id names in each queue, for the operator's messages.
SUBJECT = {"imports": "file", "runs": "run"}


def _queue(request: Request, name: str) -> Queue:
    return request.app.state.imports if name == "imports" else request.app.state.runs


def _dead_letter_json(queue: str, job: Job, subject: dict[str, Any] | None) -> dict[str, Any]:
    found = subject or {"status": "missing", "about": None, "error": None}
    return {
        "queue": queue,
        "id": job.id,
        "attempts": job.attempts,
        "enqueued_at": datetime.fromtimestamp(job.enqueued_at, UTC).isoformat(),
        **found,
    }


async def _dead_letter(request: Request, queue: str, job_id: str) -> Job:
    job = await _queue(request, queue).dead_letter(job_id)
    if job is None:
        raise ServiceError(
            404, "not_found", f"no dead-lettered job {job_id} in the {queue} queue (`airscope jobs list`)"
        )
    return job


@admin.get("/jobs")
async def list_dead_letters(request: Request, queue: QueueName | None = None) -> dict[str, Any]:
    listed = []
    with dependency_errors():
        for name in [queue] if queue else list(SUBJECT):
            jobs = await _queue(request, name).dead_letters()
            subjects = await request.app.state.store.dead_letter_subjects(name, [job.id for job in jobs])
            listed += [_dead_letter_json(name, job, subjects.get(job.id)) for job in jobs]
    return {"jobs": listed}


@admin.post("/jobs/{queue}/{job_id}/replay", responses=errors(404, 409))
async def replay_dead_letter(queue: QueueName, job_id: ResourceId, request: Request) -> dict[str, Any]:
    with dependency_errors():
        job = await _dead_letter(request, queue, job_id)
        refused = await request.app.state.store.reopen(queue, job_id)
        if refused is not None:
            raise ServiceError(
                409,
                "not_failed",
                f"the {SUBJECT[queue]} {job_id} of this job is {refused}, not failed: nothing to replay; "
                "discard the dead letter",
            )
        if not await _queue(request, queue).replay(job):
            # Its file or run was just reopened, and the other operator's replay queued it.
            raise ServiceError(
                409, "already_handled", f"the dead letter of {job_id} was replayed or discarded meanwhile"
            )
        subjects = await request.app.state.store.dead_letter_subjects(queue, [job_id])
    metrics.DEAD_LETTERS_HANDLED.labels(queue, "replayed").inc()
    log.info(
        "dead letter replayed by an operator",
        queue=queue,
        job=job_id,
        client=request.headers.get("x-client-id"),
    )
    return _dead_letter_json(queue, job, subjects.get(job_id)) | {"attempts": 0}


@admin.delete("/jobs/{queue}/{job_id}", responses=errors(404))
async def discard_dead_letter(queue: QueueName, job_id: ResourceId, request: Request) -> dict[str, Any]:
    with dependency_errors():
        job = await _dead_letter(request, queue, job_id)
        if not await _queue(request, queue).discard(job):
            raise ServiceError(
                404, "not_found", f"the dead letter of {job_id} was replayed or discarded meanwhile"
            )
        subjects = await request.app.state.store.dead_letter_subjects(queue, [job_id])
    metrics.DEAD_LETTERS_HANDLED.labels(queue, "discarded").inc()
    log.info(
        "dead letter discarded by an operator",
        queue=queue,
        job=job_id,
        client=request.headers.get("x-client-id"),
    )
    return _dead_letter_json(queue, job, subjects.get(job_id))


def create_app() -> FastAPI:
    config = Config.from_env()
    # BLMOVE blocks for a second at a time, so reads may take longer than that.
    redis_client = redis_client_module.connect(config.redis_url, socket_timeout=5, connect_timeout=2)
    # One client for the workers, the activity reports and the health check: a client per check
    # would build a TLS context (tens of ms of CPU) every time /health is asked.
    client = http_clients.internal_client(timeout=config.gateway_timeout_seconds)
    app = FastAPI(
        title=SERVICE, version=airscope.__version__, lifespan=_lifespan(config, redis_client, client)
    )
    app.state.config = config
    install_error_handlers(app)
    app.include_router(files)
    app.include_router(workflows)
    app.include_router(admin)
    checks = [
        postgres_check(config.database_url),
        redis_check(redis_client),
        # Uploads are stored and queued while airtable-gateway is down; the workers retry.
        http_check("airtable-gateway", config.airtable_gateway_url, client=client, critical=False),
    ]
    instrument(app, service=SERVICE, version=airscope.__version__, checks=checks)
    return app
