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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable
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
from airscope.services.automation_services.queue import Queue, consume, maintain
from airscope.services.automation_services.store import IdempotencyConflict, Store
from airscope.services.automation_services.worker import Gateway, Importer
from airscope.services.automation_services.workflows import NotRunnable, Runner, Scheduler, start_run
from airscope.services.common import (
    ActivityReporter,
    ServiceError,
    errors,
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


def _lifespan(config: Config, redis_client: redis.asyncio.Redis) -> Callable[[FastAPI], Any]:
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
        async with httpx.AsyncClient() as client:
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


def create_app() -> FastAPI:
    config = Config.from_env()
    # BLMOVE blocks for a second at a time, so reads may take longer than that.
    redis_client = redis_client_module.connect(config.redis_url, socket_timeout=5, connect_timeout=2)
    app = FastAPI(title=SERVICE, version=airscope.__version__, lifespan=_lifespan(config, redis_client))
    app.state.config = config
    install_error_handlers(app)
    app.include_router(files)
    app.include_router(workflows)
    checks = [
        postgres_check(config.database_url),
        redis_check(redis_client),
        # Uploads are stored and queued while airtable-gateway is down; the workers retry.
        http_check("airtable-gateway", config.airtable_gateway_url, critical=False),
    ]
    instrument(app, service=SERVICE, version=airscope.__version__, checks=checks)
    return app
