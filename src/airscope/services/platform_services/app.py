"""platform-services: accounts and tokens, activity analytics, workspaces.

Routes (the contract api-gateway, saga-orchestrator and every service reporting activity call):
  POST   /auth/register   {"email", "password", "display_name"?}     -> 201 the user
  POST   /auth/login      {"email", "password"}                      -> tokens
  POST   /auth/refresh    {"refresh_token"}                          -> new tokens (rotation)
  POST   /auth/logout     {"refresh_token"}                          -> 204
  GET    /auth/me         Authorization: Bearer <access token>       -> the user
  POST   /activity        {"type", "user"}                           -> 202
  GET    /analytics/activity?days=7                                  -> counts per day and type
  POST   /workspaces      {"name", "owner"?} (+ Idempotency-Key)     -> 201
  GET    /workspaces, GET /workspaces/{id}, DELETE /workspaces/{id} (soft, idempotent)

Operators' routes (api-gateway serves them as /api/admin/users/..., to API keys only):
  POST   /admin/users/revoke-tokens {"email"}   -> every refresh token of the account revoked: its
                                                 logins end when their access tokens expire
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

import airscope
from airscope.services.common import ServiceError, errors, install_error_handlers
from airscope.services.common.background import stop
from airscope.services.common.storable import STORABLE, trimmed_text
from airscope.services.platform_services import activity, workspaces
from airscope.services.platform_services.auth import Auth, client_key
from airscope.services.platform_services.config import Config
from airscope.services.platform_services.db import Database
from airscope.services.platform_services.models import User
from airscope.services.platform_services.passwords import Passwords
from airscope.telemetry import Check, instrument

SERVICE = "platform-services"
# Deliberately loose (one @, a dot in the domain, no spaces): the only real check of an address
# is mail reaching it, and a strict pattern refuses valid ones.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=3, max_length=254, pattern=EMAIL_PATTERN
    ),
    STORABLE,
]
# Login takes any address-like text: a malformed one simply matches no account.
LoginEmail = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=254), STORABLE
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = trimmed_text(100)
RefreshTokenText = Annotated[str, StringConstraints(min_length=1, max_length=512), STORABLE]


class RegisterRequest(BaseModel):
    email: Email
    password: Password
    display_name: Name | None = None


class LoginRequest(BaseModel):
    email: LoginEmail
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshRequest(BaseModel):
    refresh_token: RefreshTokenText


class RevokeTokensRequest(BaseModel):
    email: LoginEmail


class RevokedTokens(BaseModel):
    user_id: uuid.UUID
    email: str
    revoked: int
    access_tokens_expire_within_seconds: int


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(user, from_attributes=True)


class TokensOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class ActivityRequest(BaseModel):
    type: Literal["login", "chat", "upload", "saga"]
    user: Annotated[str, StringConstraints(min_length=1, max_length=128), STORABLE]


class DayCounts(BaseModel):
    date: str
    counts: dict[str, int]


class ActivityReport(BaseModel):
    days: list[DayCounts]


class WorkspaceRequest(BaseModel):
    name: Name
    owner: Annotated[str, StringConstraints(min_length=1, max_length=128), STORABLE] | None = None


class WorkspaceList(BaseModel):
    workspaces: list[workspaces.WorkspaceOut]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(_session)]


def _workspace_id(raw: str) -> uuid.UUID:
    """The path's workspace id; anything that is not a UUID names no workspace: 404."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ServiceError(404, "not_found", "no such workspace") from None


async def _auth(request: Request) -> Auth:
    return request.app.state.auth


AuthService = Annotated[Auth, Depends(_auth)]

accounts = APIRouter()
analytics = APIRouter()
workspace_routes = APIRouter()


@accounts.post("/auth/register", status_code=201, responses=errors(409))
async def register(body: RegisterRequest, session: Session, auth: AuthService) -> UserOut:
    return UserOut.of(await auth.register(session, body.email, body.password, body.display_name))


@accounts.post("/auth/login", responses=errors(401, 429))
async def login(body: LoginRequest, session: Session, request: Request, auth: AuthService) -> TokensOut:
    client = client_key(
        request.headers.getlist("x-forwarded-for"), request.client.host if request.client else None
    )
    pair = await auth.login(session, body.email, body.password, client)
    return TokensOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@accounts.post("/auth/refresh", responses=errors(401))
async def refresh(body: RefreshRequest, session: Session, auth: AuthService) -> TokensOut:
    pair = await auth.refresh(session, body.refresh_token)
    return TokensOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@accounts.post("/auth/logout", status_code=204)
async def logout(body: RefreshRequest, session: Session, auth: AuthService) -> Response:
    await auth.logout(session, body.refresh_token)
    return Response(status_code=204)


@accounts.get("/auth/me", responses=errors(401))
async def me(
    session: Session, auth: AuthService, authorization: Annotated[str | None, Header()] = None
) -> UserOut:
    return UserOut.of(await auth.user_for(session, authorization))


@analytics.post(
    "/activity", status_code=202, response_class=Response, responses={202: {"description": "Counted"}}
)
async def report_activity(body: ActivityRequest, session: Session) -> Response:
    async with session.begin():
        await activity.record(session, body.type, body.user)
    return Response(status_code=202)


@analytics.get("/analytics/activity")
async def activity_report(session: Session, days: Annotated[int, Query(ge=1, le=90)] = 7) -> ActivityReport:
    async with session.begin():
        return ActivityReport(days=[DayCounts(**day) for day in await activity.by_day(session, days)])


@workspace_routes.post("/workspaces", status_code=201)
async def create_workspace(
    body: WorkspaceRequest,
    session: Session,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> JSONResponse:
    async def work(session: AsyncSession) -> tuple[int, dict]:
        return await workspaces.create(session, body.name, body.owner)

    if idempotency_key is None:
        async with session.begin():
            status, answer = await work(session)
        return JSONResponse(answer, status_code=status)
    status, answer, replayed = await workspaces.idempotent(
        session, workspaces.CREATE_SCOPE, idempotency_key, workspaces.request_hash(body), work
    )
    return JSONResponse(answer, status_code=status, headers={"Idempotent-Replayed": str(replayed).lower()})


@workspace_routes.get("/workspaces")
async def list_workspaces(
    session: Session,
    include_deleted: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> WorkspaceList:
    async with session.begin():
        found = await workspaces.list_all(session, include_deleted=include_deleted, limit=limit)
    return WorkspaceList(workspaces=[workspaces.WorkspaceOut.of(w) for w in found])


@workspace_routes.get("/workspaces/{workspace_id}", responses=errors(404))
async def get_workspace(workspace_id: str, session: Session) -> workspaces.WorkspaceOut:
    async with session.begin():
        found = await workspaces.get(session, _workspace_id(workspace_id))
    if found is None:
        raise ServiceError(404, "not_found", "no such workspace")
    return workspaces.WorkspaceOut.of(found)


@workspace_routes.delete("/workspaces/{workspace_id}", status_code=204, responses=errors(404))
async def delete_workspace(workspace_id: str, session: Session) -> Response:
    if not await workspaces.soft_delete(session, _workspace_id(workspace_id)):
        raise ServiceError(404, "not_found", "no such workspace")
    return Response(status_code=204)


admin = APIRouter(prefix="/admin")


@admin.post("/users/revoke-tokens", responses=errors(404))
async def revoke_tokens(body: RevokeTokensRequest, session: Session, auth: AuthService) -> RevokedTokens:
    found = await auth.revoke_user_tokens(session, body.email)
    if found is None:
        raise ServiceError(404, "not_found", "no account has this email")
    user, revoked = found
    return RevokedTokens(
        user_id=user.id,
        email=user.email,
        revoked=revoked,
        access_tokens_expire_within_seconds=auth.access_tokens.ttl_seconds,
    )


def create_app() -> FastAPI:
    config = Config.from_env()
    db = Database(config)
    db.bind_pool_metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = [
            asyncio.create_task(db.migrate_until_done()),
            asyncio.create_task(activity.keep_active_users_current(db, config.active_users_refresh_seconds)),
        ]
        try:
            yield
        finally:
            await stop(background)
            await db.close()

    app = FastAPI(title=SERVICE, version=airscope.__version__, lifespan=lifespan)
    app.state.db = db
    app.state.auth = Auth(config, Passwords())
    install_error_handlers(app)
    for router in (accounts, analytics, workspace_routes, admin):
        app.include_router(router)
    instrument(
        app,
        service=SERVICE,
        version=airscope.__version__,
        # SELECT 1 through the service's own pool, failing too until the migrations have run.
        checks=[Check(name="postgres", probe=db.ping, critical=True, component_type="datastore")],
    )
    return app
