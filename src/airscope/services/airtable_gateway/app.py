"""airtable-gateway: Airtable's REST API behind one rate-limited, cached, observed client.

Routes (the contract mcp-server and automation-services call):
  GET    /bases
  GET    /bases/{base_id}/tables
  GET    /bases/{base_id}/tables/{table}/records          (filterByFormula, maxRecords, fields, sort_*)
  GET    /bases/{base_id}/tables/{table}/records/{record_id}
  POST   /bases/{base_id}/tables/{table}/records          {"records": [{"fields"}] (1..10), "typecast"}
  PATCH  /bases/{base_id}/tables/{table}/records          {"records": [{"id", "fields"}] (1..10), "typecast"}
  PATCH  /bases/{base_id}/tables/{table}/records/{record_id}   {"fields", "typecast"}
  DELETE /bases/{base_id}/tables/{table}/records/{record_id}
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import BaseModel, Field
from redis.asyncio import Redis

import airscope
from airscope.services.airtable_gateway.cache import ReadCache
from airscope.services.airtable_gateway.client import AirtableClient
from airscope.services.airtable_gateway.config import Config
from airscope.services.airtable_gateway.metrics import POOL_CONNECTIONS, POOL_CONNECTIONS_LIMIT
from airscope.services.airtable_gateway.ratelimit import RateLimiter
from airscope.services.common import ServiceError, install_error_handlers
from airscope.telemetry import Check, instrument, redis_check

SERVICE = "airtable-gateway"

# Airtable's ids: "app" + 14 letters or digits. Checking the shape keeps junk from reaching Airtable
# and from creating limiter buckets or cache counters.
BaseId = Annotated[str, Path(pattern=r"^app[A-Za-z0-9]{14}$")]
TableName = Annotated[str, Path(min_length=1, max_length=255)]
RecordId = Annotated[str, Path(min_length=1, max_length=64)]

T = TypeVar("T")


class NewRecord(BaseModel):
    fields: dict[str, Any]


class RecordUpdate(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    fields: dict[str, Any]


class CreateRecords(BaseModel):
    records: list[NewRecord] = Field(min_length=1, max_length=10)
    typecast: bool = False


class UpdateRecords(BaseModel):
    records: list[RecordUpdate] = Field(min_length=1, max_length=10)
    typecast: bool = False


class UpdateRecord(BaseModel):
    fields: dict[str, Any]
    typecast: bool = False


def build_router(airtable: AirtableClient, cache: ReadCache) -> APIRouter:
    router = APIRouter()

    async def write(base_id: str, call: Awaitable[T]) -> T:
        """Runs a write, then makes the base's cached reads unreachable, so a read after it sees it."""
        try:
            result = await call
        except ServiceError as error:
            # A timeout or 5xx leaves unknown whether the write happened; a 4xx means it did not.
            if error.status >= 500:
                await cache.invalidate(base_id)
            raise
        await cache.invalidate(base_id)
        return result

    @router.get("/bases")
    async def list_bases() -> dict:
        async def load() -> dict:
            return {"bases": await airtable.list_bases()}

        return await cache.get_or_load("list_bases", None, {}, load)

    @router.get("/bases/{base_id}/tables")
    async def list_tables(base_id: BaseId) -> dict:
        async def load() -> dict:
            return {"tables": await airtable.list_tables(base_id)}

        return await cache.get_or_load("list_tables", base_id, {}, load)

    @router.get("/bases/{base_id}/tables/{table}/records")
    async def list_records(
        base_id: BaseId,
        table: TableName,
        formula: Annotated[str | None, Query(alias="filterByFormula", max_length=10_000)] = None,
        max_records: Annotated[int, Query(alias="maxRecords", ge=1, le=1000)] = 100,
        fields: Annotated[list[str] | None, Query(max_length=100)] = None,
        sort_field: Annotated[str | None, Query(max_length=255)] = None,
        sort_direction: Literal["asc", "desc"] = "asc",
    ) -> dict:
        async def load() -> dict:
            records = await airtable.list_records(
                base_id,
                table,
                max_records=max_records,
                formula=formula,
                fields=fields,
                sort_field=sort_field,
                sort_direction=sort_direction,
            )
            return {"records": records}

        query = {
            "table": table,
            "filterByFormula": formula,
            "maxRecords": max_records,
            "fields": fields,
            "sort_field": sort_field,
            "sort_direction": sort_direction if sort_field else None,
        }
        return await cache.get_or_load("list_records", base_id, query, load)

    @router.get("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def get_record(base_id: BaseId, table: TableName, record_id: RecordId) -> dict:
        async def load() -> dict:
            return await airtable.get_record(base_id, table, record_id)

        return await cache.get_or_load("get_record", base_id, {"table": table, "record": record_id}, load)

    @router.post("/bases/{base_id}/tables/{table}/records")
    async def create_records(base_id: BaseId, table: TableName, body: CreateRecords) -> dict:
        records = [record.model_dump() for record in body.records]
        return {
            "records": await write(base_id, airtable.create_records(base_id, table, records, body.typecast))
        }

    @router.patch("/bases/{base_id}/tables/{table}/records")
    async def update_records(base_id: BaseId, table: TableName, body: UpdateRecords) -> dict:
        records = [record.model_dump() for record in body.records]
        return {
            "records": await write(base_id, airtable.update_records(base_id, table, records, body.typecast))
        }

    @router.patch("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def update_record(
        base_id: BaseId, table: TableName, record_id: RecordId, body: UpdateRecord
    ) -> dict:
        return await write(
            base_id, airtable.update_record(base_id, table, record_id, body.fields, body.typecast)
        )

    @router.delete("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def delete_record(base_id: BaseId, table: TableName, record_id: RecordId) -> dict:
        return await write(base_id, airtable.delete_record(base_id, table, record_id))

    return router


def create_app() -> FastAPI:
    config = Config.from_env()
    # Short socket timeouts: a hanging Redis must cost a read a second at most, not stall it.
    redis = Redis.from_url(config.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    airtable = AirtableClient(config, RateLimiter(config.rate_limit_per_second))
    cache = ReadCache(redis, config.cache_ttl_seconds)

    POOL_CONNECTIONS.labels("in_use").set_function(lambda: airtable.pool_connections()["in_use"])
    POOL_CONNECTIONS.labels("idle").set_function(lambda: airtable.pool_connections()["idle"])
    POOL_CONNECTIONS_LIMIT.set(config.max_connections)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            await airtable.aclose()
            await redis.aclose()

    app = FastAPI(title=SERVICE, version=airscope.__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(build_router(airtable, cache))
    instrument(
        app,
        service=SERVICE,
        version=airscope.__version__,
        checks=[
            redis_check(redis),
            # An Airtable outage is theirs: reported (warn), but it must not take us out of rotation.
            Check(name="airtable", probe=airtable.probe, critical=False, component_type="component"),
        ],
    )
    return app
