"""saga-orchestrator: multi-service workflows (sagas) that finish or are undone, surviving restarts.

Routes:
  POST /sagas/onboarding  {"workspace_name", "base_id"?, "owner"?}  (?wait=true waits up to 8 s)
                          -> 202 the saga as started, or 201 the saga as ended when waited for
  GET  /sagas/{id}        -> the saga and its steps
  GET  /sagas             ?status=running|completed|compensating|compensated|failed|closed&limit=

Operators' routes (api-gateway serves them as /api/admin/sagas..., to API keys only):
  GET  /admin/sagas                 ?status= (default failed: the ones someone must clean up)&limit=
  GET  /admin/sagas/{id}            the saga, its steps, their results and errors
  POST /admin/sagas/{id}/compensate runs its failed compensations again, waiting up to 8 s for them
                                    (?wait=false: not at all) -> 200 the saga as ended, or 202 still
                                    compensating; 409 unless failed
  POST /admin/sagas/{id}/close      {"note"}: cleaned up by hand -> 200 the saga, closed; 409 unless failed

In the lifespan a background loop renews this process's lease on the sagas it drives and claims
the ones whose process stopped renewing (it crashed): that is how a restart resumes, or
compensates, the sagas in flight. Its first pass runs at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StringConstraints

import airscope
from airscope.services.common import (
    ActivityReporter,
    ServiceError,
    errors,
    http_clients,
    install_error_handlers,
)
from airscope.services.common.background import stop
from airscope.services.common.datastores import postgres_errors
from airscope.services.common.storable import trimmed_text
from airscope.services.saga_orchestrator import metrics, onboarding
from airscope.services.saga_orchestrator.config import Config
from airscope.services.saga_orchestrator.engine import Engine, new_owner_id
from airscope.services.saga_orchestrator.store import (
    CLOSED,
    FAILED,
    MAX_NOTE_CHARS,
    SagaState,
    SagaStatus,
    Store,
    create_pool,
)
from airscope.telemetry import get_logger, http_check, instrument, postgres_check, untraced

log = get_logger(__name__)

SERVICE = "saga-orchestrator"
# Shorter than the api-gateway's timeout for this service (10 s): a waited call that runs long
# answers 202 (poll GET /sagas/{id}) instead of the gateway answering 504 while the saga goes on.
MAX_WAIT_SECONDS = 8.0
SAGA_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


SagaId = Annotated[str, Path(pattern=SAGA_ID)]
WorkspaceName = trimmed_text(100)
Owner = trimmed_text(128)


class OnboardingRequest(BaseModel):
    workspace_name: WorkspaceName
    base_id: Annotated[str, StringConstraints(pattern=r"^app[A-Za-z0-9]{14}$")] = onboarding.DEFAULT_BASE_ID
    owner: Owner | None = None


Note = trimmed_text(MAX_NOTE_CHARS)


class CloseRequest(BaseModel):
    note: Note  # what was cleaned up and by whom: the saga keeps it


async def _keep_sagas_owned(engine: Engine, store: Store, every_seconds: float) -> None:
    """Renews the leases of the sagas this process drives and resumes abandoned ones, forever; on the
    same timer, counts the failed sagas still waiting for an operator."""
    while True:
        try:
            with untraced():  # a timer, not anyone's request; a resumed saga opens its own trace
                await store.renew(engine.running())
                await engine.resume_abandoned()
                metrics.set_failed_open(list(engine.definitions), await store.failed_by_saga())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The postgres check reports the outage; sagas wait, written, until it is back.
            log.warning("cannot renew or resume sagas", error=repr(exc))
        await asyncio.sleep(every_seconds)


sagas = APIRouter()


@sagas.post(
    "/sagas/onboarding",
    status_code=202,
    responses={201: {"description": "With ?wait=true: the saga finished within the wait"}},
)
async def start_onboarding(body: OnboardingRequest, request: Request, wait: bool = False) -> JSONResponse:
    engine: Engine = request.app.state.engine
    client_id = request.headers.get("x-client-id")
    saga_input = {
        "workspace_name": body.workspace_name,
        "base_id": body.base_id,
        "owner": body.owner or client_id,
    }
    with postgres_errors():
        state = await engine.start(onboarding.NAME, saga_input)
    request.app.state.activity.report("saga", client_id)
    log.info("saga started", saga_id=state.id, saga=state.saga)
    if wait:
        await engine.wait(state.id, MAX_WAIT_SECONDS)
        with postgres_errors():
            state = await request.app.state.store.get(state.id) or state
    return JSONResponse(state.to_json(), status_code=201 if state.finished else 202)


@sagas.get("/sagas/{saga_id}", responses=errors(404))
async def get_saga(saga_id: SagaId, request: Request) -> dict:
    with postgres_errors():
        state = await request.app.state.store.get(saga_id)
    if state is None:
        raise ServiceError(404, "not_found", f"no saga {saga_id}")
    return state.to_json()


@sagas.get("/sagas")
async def list_sagas(
    request: Request,
    status: SagaStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    with postgres_errors():
        sagas = await request.app.state.store.list(status, limit)
    return {"sagas": [state.to_json() for state in sagas]}


admin = APIRouter(prefix="/admin")


async def _found(request: Request, saga_id: str) -> SagaState:
    with postgres_errors():
        state = await request.app.state.store.get(saga_id)
    if state is None:
        raise ServiceError(404, "not_found", f"no saga {saga_id}")
    return state


def _not_failed(state: SagaState, action: str) -> ServiceError:
    return ServiceError(
        409,
        "not_failed",
        f"saga {state.id} is {state.status}: only a failed saga can be {action} "
        "(`airscope sagas list` shows the failed ones)",
    )


@admin.get("/sagas")
async def admin_list_sagas(
    request: Request,
    status: SagaStatus = FAILED,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    return await list_sagas(request, status, limit)


@admin.get("/sagas/{saga_id}", responses=errors(404))
async def admin_get_saga(saga_id: SagaId, request: Request) -> dict:
    return (await _found(request, saga_id)).to_json()


@admin.post(
    "/sagas/{saga_id}/compensate", responses={**errors(404, 409), 202: {"description": "Still compensating"}}
)
async def compensate_saga(saga_id: SagaId, request: Request, wait: bool = True) -> JSONResponse:
    engine: Engine = request.app.state.engine
    await _found(request, saga_id)  # unknown: 404 before anything changes
    with postgres_errors():
        reopened = await engine.compensate_again(saga_id)
    if not reopened:
        raise _not_failed(await _found(request, saga_id), "compensated again")
    log.info(
        "saga compensation started by an operator", saga_id=saga_id, client=request.headers.get("x-client-id")
    )
    if wait:
        await engine.wait(saga_id, MAX_WAIT_SECONDS)
    state = await _found(request, saga_id)
    return JSONResponse(state.to_json(), status_code=200 if state.finished else 202)


@admin.post("/sagas/{saga_id}/close", responses=errors(404, 409))
async def close_saga(saga_id: SagaId, body: CloseRequest, request: Request) -> dict:
    state = await _found(request, saga_id)
    with postgres_errors():
        closed = await request.app.state.store.close(saga_id, body.note)
    if not closed:
        raise _not_failed(await _found(request, saga_id), "closed")
    metrics.SAGA_CLEANUPS.labels(state.saga, CLOSED).inc()
    log.info("failed saga closed by an operator", saga_id=saga_id, client=request.headers.get("x-client-id"))
    return (await _found(request, saga_id)).to_json()


def create_app() -> FastAPI:
    config = Config.from_env()
    # One client for the steps, the activity reports and the health checks: a client per check
    # would build a TLS context (tens of ms of CPU) every time /health is asked.
    client = http_clients.internal_client(timeout=config.step_timeout_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(config.database_url)
        store = Store(pool, new_owner_id(), config.lease_seconds)
        saga = onboarding.definition(
            client,
            platform_url=config.platform_url,
            airtable_gateway_url=config.airtable_gateway_url,
            automation_url=config.automation_url,
        )
        metrics.initialise({saga.name: saga.step_names})
        engine = Engine(
            store,
            {saga.name: saga},
            step_timeout_seconds=config.step_timeout_seconds,
            step_max_attempts=config.step_max_attempts,
            compensation_max_attempts=config.compensation_max_attempts,
        )
        app.state.engine, app.state.store = engine, store
        app.state.activity = ActivityReporter(client, config.platform_url)
        keeper = asyncio.create_task(_keep_sagas_owned(engine, store, config.lease_seconds / 3))
        try:
            yield
        finally:
            await stop([keeper])
            in_flight = engine.running()
            await engine.close()
            # A graceful stop hands the sagas in flight over at once instead of after their lease.
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await store.release(in_flight)
            await app.state.activity.drain()
            await client.aclose()
            await pool.close()

    app = FastAPI(title=SERVICE, version=airscope.__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(sagas)
    app.include_router(admin)

    instrument(
        app,
        service=SERVICE,
        version=airscope.__version__,
        checks=[
            postgres_check(config.database_url),
            # A service that is down fails the step that needs it (retried, then compensated):
            # reported as a warning, but no reason to take this one out of rotation.
            http_check("platform-services", config.platform_url, client=client, critical=False),
            http_check("airtable-gateway", config.airtable_gateway_url, client=client, critical=False),
            http_check("automation-services", config.automation_url, client=client, critical=False),
        ],
    )
    return app
