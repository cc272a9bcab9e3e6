"""Workspaces (created and compensated by saga-orchestrator), with Idempotency-Key replays.

A request with an ``Idempotency-Key`` first claims the key (``INSERT ... ON CONFLICT DO NOTHING``
on its primary key), then does its work and stores its answer under the key, all in one
transaction. A concurrent duplicate's INSERT waits on the first one's uncommitted row and, once it
commits, finds the key taken and replays the stored answer: nothing is created twice. If the first
fails, its claim rolls back with it and the duplicate does the work instead.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from airscope.services.common import ServiceError
from airscope.services.platform_services.db import timed
from airscope.services.platform_services.models import IdempotencyKey, Workspace

CREATE_SCOPE = "POST /workspaces"


class WorkspaceOut(BaseModel):
    id: uuid.UUID
    name: str
    owner: str | None
    created_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceOut:
        return cls.model_validate(workspace, from_attributes=True)


def request_hash(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def idempotent(
    session: AsyncSession,
    scope: str,
    key: str,
    body_hash: str,
    work: Callable[[AsyncSession], Awaitable[tuple[int, dict]]],
) -> tuple[int, dict, bool]:
    """``(status, body, replayed)``: ``work``'s answer, or the stored answer of the key's first use."""
    async with session.begin():
        with timed("claim_idempotency_key"):
            claimed = await session.scalar(
                insert(IdempotencyKey)
                .values(scope=scope, key=key, request_hash=body_hash)
                .on_conflict_do_nothing()
                .returning(IdempotencyKey.key)
            )
        if claimed is None:
            with timed("idempotent_response"):
                first = await session.get(IdempotencyKey, (scope, key), populate_existing=True)
            if first is None or first.request_hash != body_hash:
                raise ServiceError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request; use a new key",
                )
            return first.status_code, first.response, True
        status, response = await work(session)
        with timed("store_idempotent_response"):
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                .values(status_code=status, response=response)
            )
    return status, response, False


async def create(session: AsyncSession, name: str, owner: str | None) -> tuple[int, dict]:
    """Adds a workspace to the session's transaction; ``(201, its JSON)``."""
    with timed("insert_workspace"):
        workspace = await session.scalar(
            insert(Workspace).values(id=uuid.uuid4(), name=name, owner=owner).returning(Workspace)
        )
    return 201, WorkspaceOut.of(workspace).model_dump(mode="json")


async def get(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace | None:
    with timed("workspace_by_id"):
        return await session.get(Workspace, workspace_id)


async def list_all(session: AsyncSession, *, include_deleted: bool, limit: int) -> list[Workspace]:
    query = select(Workspace).order_by(Workspace.created_at.desc(), Workspace.id).limit(limit)
    if not include_deleted:
        query = query.where(Workspace.deleted_at.is_(None))
    with timed("list_workspaces"):
        return list(await session.scalars(query))


async def soft_delete(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """Marks the workspace deleted (once: a repeat keeps the first time); False if it never existed."""
    with timed("soft_delete_workspace"):
        deleted = await session.scalar(
            update(Workspace)
            .where(Workspace.id == workspace_id)
            .values(deleted_at=func.coalesce(Workspace.deleted_at, func.now()))
            .returning(Workspace.id)
        )
    await session.commit()
    return deleted is not None
