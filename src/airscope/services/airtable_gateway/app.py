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
  POST   /bases/{base_id}/tables          {"name", "description"?, "fields": [{"name", "type", "options"?}]}
                                          -> 201 the table; honours Idempotency-Key; 409 table_name_taken
  PATCH  /bases/{base_id}/tables/{table}  {"name"?, "description"?} -> the table

Serving more than Airtable's 5 requests/s per base with fewer calls: reads are cached in Redis and
identical ones in flight share one call (cache.py), concurrent writes to a table leave in one
request of up to 10 records (batch.py), and the limiter's margin widens on Airtable's 429s and
narrows back while it agrees (ratelimit.py).

Airtable's API cannot delete a table, so neither can the gateway: undoing a creation means renaming
the table (saga-orchestrator's compensation marks it ``[archived] <name>``), and a person deletes
it in Airtable's UI if it must go.

Idempotency-Key on a table creation: the first answer (the table, or a 4xx refusal) is kept in Redis
for 24 h under the key and replayed for a repeat with ``Idempotent-Replayed: true``, so a caller that
retries (a saga step after a timeout) never creates a second table. A repeat that arrives while the
first is still running waits for its answer, up to a few seconds, then gets 409
``idempotency_in_progress``; the same key with a different body is 422 ``idempotency_key_reused``.
A 5xx or timeout leaves unknown whether Airtable created the table: the key is then free for a
retry, and a retry that finds the name taken answers the table of that name, since the lost attempt
is what most likely made it. Without Redis a keyed creation is refused (503), never run unguarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, FastAPI, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError

import airscope
from airscope.services.airtable_gateway.batch import WriteBatcher
from airscope.services.airtable_gateway.cache import ReadCache
from airscope.services.airtable_gateway.client import AirtableClient
from airscope.services.airtable_gateway.config import Config
from airscope.services.airtable_gateway.metrics import (
    POOL_CONNECTIONS,
    POOL_CONNECTIONS_LIMIT,
    RATE_LIMIT_WINDOW,
)
from airscope.services.airtable_gateway.ratelimit import RateLimiter
from airscope.services.common import ServiceError, errors, install_error_handlers, redis_client
from airscope.services.common.deadline import RequestDeadline
from airscope.services.common.storable import STORABLE
from airscope.telemetry import Check, instrument, redis_check

SERVICE = "airtable-gateway"

# Airtable's ids: "app" + 14 letters or digits. Checking the shape keeps junk from reaching Airtable
# and from creating limiter buckets or cache counters.
BaseId = Annotated[str, Path(pattern=r"^app[A-Za-z0-9]{14}$")]
TableName = Annotated[str, Path(min_length=1, max_length=255)]
RecordId = Annotated[str, Path(min_length=1, max_length=64)]

T = TypeVar("T")


class NewRecord(BaseModel):
    fields: Annotated[dict[str, Any], STORABLE]


class RecordUpdate(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    fields: Annotated[dict[str, Any], STORABLE]


class CreateRecords(BaseModel):
    records: list[NewRecord] = Field(min_length=1, max_length=10)
    typecast: bool = False


class UpdateRecords(BaseModel):
    records: list[RecordUpdate] = Field(min_length=1, max_length=10)
    typecast: bool = False


class UpdateRecord(BaseModel):
    fields: Annotated[dict[str, Any], STORABLE]
    typecast: bool = False


class NewField(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=64)
    options: Annotated[dict[str, Any], STORABLE] | None = None


class CreateTable(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20_000)
    fields: list[NewField] = Field(min_length=1, max_length=500)


class UpdateTable(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateTable:
        if self.name is None and self.description is None:
            raise ValueError("give a name or a description")
        return self


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)]

IDEMPOTENCY_TTL_SECONDS = 86_400
# Longer than the slowest creation (3 attempts of 10 s plus 10 s of back-off), so a claim outlives
# its request, yet one left by a crashed gateway frees itself.
CLAIM_TTL_SECONDS = 60
IDEMPOTENCY_WAIT_SECONDS = 5.0
IDEMPOTENCY_POLL_SECONDS = 0.1

# Takes the key unless an answer (or a running request) holds it; an "uncertain" entry (the last
# attempt failed in a way that leaves unknown whether it took effect) may be taken again.
# Returns {1 if taken, the previous value or ""}.
CLAIM = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).state ~= 'uncertain' then
  return {0, current}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, current or ''}
"""


class Idempotency:
    """Runs a keyed request once and replays its answer (see the module docstring)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._claim = redis.register_script(CLAIM)

    async def run(
        self, scope: str, key: str, request: Any, call: Callable[[bool], Awaitable[dict]]
    ) -> tuple[dict, bool]:
        """``call(after_uncertain)``'s answer, or the kept one; the flag says whether it was replayed."""
        redis_key = "airtable-gateway:idempotency:" + hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()
        fingerprint = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            claimed, previous = await self._redis_call(
                self._claim(
                    keys=[redis_key],
                    args=[_entry("in_progress", fingerprint), CLAIM_TTL_SECONDS],
                )
            )
            if claimed:
                after_uncertain = bool(previous) and orjson.loads(previous)["fingerprint"] == fingerprint
                return await self._first(redis_key, fingerprint, call, after_uncertain), False
            entry = orjson.loads(previous)
            if entry["fingerprint"] != fingerprint:
                raise ServiceError(
                    422, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
                )
            if entry["state"] == "done":
                if "error" in entry:
                    error = entry["error"]
                    raise ServiceError(entry["status"], error["error"], error["message"])
                return entry["body"], True
            if time.monotonic() >= deadline:
                raise ServiceError(
                    409, "idempotency_in_progress", "a request with this Idempotency-Key is still running"
                )
            await asyncio.sleep(IDEMPOTENCY_POLL_SECONDS)

    async def _first(
        self, redis_key: str, fingerprint: str, call: Callable[[bool], Awaitable[dict]], after_uncertain: bool
    ) -> dict:
        try:
            body = await call(after_uncertain)
        except ServiceError as error:
            if error.status < 500:  # Airtable refused it: nothing happened, and a repeat gets the same
                kept = _entry("done", fingerprint, status=error.status, error=error.body())
                await self._redis_call(self._redis.set(redis_key, kept, ex=IDEMPOTENCY_TTL_SECONDS))
            else:
                await self._uncertain(redis_key, fingerprint)
            raise
        except BaseException:
            await self._uncertain(redis_key, fingerprint)
            raise
        kept = _entry("done", fingerprint, status=201, body=body)
        await self._redis_call(self._redis.set(redis_key, kept, ex=IDEMPOTENCY_TTL_SECONDS))
        return body

    async def _uncertain(self, redis_key: str, fingerprint: str) -> None:
        # On a Redis failure the claim expires by itself; the error the caller gets is the one that matters.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.set(redis_key, _entry("uncertain", fingerprint), ex=IDEMPOTENCY_TTL_SECONDS)

    @staticmethod
    async def _redis_call(call: Awaitable[T]) -> T:
        try:
            return await call
        except (RedisError, OSError) as exc:
            raise ServiceError(
                503,
                "redis_unavailable",
                f"Redis is unreachable, so an Idempotency-Key cannot be honoured ({exc!r})",
            ) from exc


def _entry(state: str, fingerprint: str, **answer: Any) -> bytes:
    return orjson.dumps({"state": state, "fingerprint": fingerprint, **answer})


async def write(cache: ReadCache, base_id: str, call: Awaitable[T], *, table: str | None = None) -> T:
    """Runs a write, then makes the cached reads it may change unreachable (the table's records when
    ``table`` is given, else the whole base's), so a read after it sees it."""
    try:
        result = await call
    except ServiceError as error:
        # A timeout or 5xx leaves unknown whether the write happened; a 4xx means it did not.
        if error.status >= 500:
            await cache.invalidate(base_id, table)
        raise
    await cache.invalidate(base_id, table)
    return result


class RecordWrites:
    """Creates and updates of records, through the batcher (batch.py)."""

    def __init__(self, airtable: AirtableClient, batcher: WriteBatcher) -> None:
        self._airtable = airtable
        self._batcher = batcher

    async def create(self, base_id: str, table: str, records: list[dict], typecast: bool) -> list[dict]:
        async def send(batch: list[dict], reserved: bool) -> list[dict]:
            return await self._airtable.create_records(base_id, table, batch, typecast, reserved=reserved)

        return await self._batcher.write(("create", base_id, table, typecast), base_id, records, send)

    async def update(self, base_id: str, table: str, records: list[dict], typecast: bool) -> list[dict]:
        async def send(batch: list[dict], reserved: bool) -> list[dict]:
            return await self._airtable.update_records(base_id, table, batch, typecast, reserved=reserved)

        return await self._batcher.write(("update", base_id, table, typecast), base_id, records, send)


def _tables_router(airtable: AirtableClient, cache: ReadCache, idempotency: Idempotency) -> APIRouter:
    """The bases and their tables."""
    # Every route but /bases names a base, a table or a record Airtable may not have.
    router = APIRouter(responses=errors(404))

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

    @router.post("/bases/{base_id}/tables", status_code=201, responses=errors(409))
    async def create_table(
        base_id: BaseId, body: CreateTable, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Creates a table. Airtable has no API to delete one: see the module docstring."""
        table = body.model_dump(exclude_none=True)

        async def create(after_uncertain: bool) -> dict:
            try:
                return await write(cache, base_id, airtable.create_table(base_id, table))
            except ServiceError as error:
                if not (after_uncertain and error.code == "table_name_taken"):
                    raise
                # The lost answer of this key's earlier attempt most likely made the table.
                tables = await airtable.list_tables(base_id)
                made = next((t for t in tables if t.get("name", "").lower() == body.name.lower()), None)
                if made is None:
                    raise
                return made

        if idempotency_key is None:
            return JSONResponse(await create(False), status_code=201)
        answer, replayed = await idempotency.run(f"create_table\0{base_id}", idempotency_key, table, create)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(answer, status_code=201, headers=headers)

    @router.patch("/bases/{base_id}/tables/{table}", responses=errors(409))
    async def update_table(base_id: BaseId, table: TableName, body: UpdateTable) -> dict:
        """Renames and/or re-describes a table (the nearest thing to deleting one Airtable allows)."""
        return await write(
            cache, base_id, airtable.update_table(base_id, table, body.model_dump(exclude_none=True))
        )

    return router


def _records_router(airtable: AirtableClient, cache: ReadCache, writes: RecordWrites) -> APIRouter:
    """The records of a table."""
    router = APIRouter(responses=errors(404))

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
        return await cache.get_or_load("list_records", base_id, query, load, table=table)

    @router.get("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def get_record(base_id: BaseId, table: TableName, record_id: RecordId) -> dict:
        async def load() -> dict:
            return await airtable.get_record(base_id, table, record_id)

        query = {"table": table, "record": record_id}
        return await cache.get_or_load("get_record", base_id, query, load, table=table)

    @router.post("/bases/{base_id}/tables/{table}/records")
    async def create_records(base_id: BaseId, table: TableName, body: CreateRecords) -> dict:
        records = [record.model_dump() for record in body.records]
        written = await write(
            cache, base_id, writes.create(base_id, table, records, body.typecast), table=table
        )
        return {"records": written}

    @router.patch("/bases/{base_id}/tables/{table}/records")
    async def update_records(base_id: BaseId, table: TableName, body: UpdateRecords) -> dict:
        records = [record.model_dump() for record in body.records]
        written = await write(
            cache, base_id, writes.update(base_id, table, records, body.typecast), table=table
        )
        return {"records": written}

    @router.patch("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def update_record(
        base_id: BaseId, table: TableName, record_id: RecordId, body: UpdateRecord
    ) -> dict:
        change = [{"id": record_id, "fields": body.fields}]
        (written,) = await write(
            cache, base_id, writes.update(base_id, table, change, body.typecast), table=table
        )
        return written

    @router.delete("/bases/{base_id}/tables/{table}/records/{record_id}")
    async def delete_record(base_id: BaseId, table: TableName, record_id: RecordId) -> dict:
        return await write(cache, base_id, airtable.delete_record(base_id, table, record_id), table=table)

    return router


def build_router(
    airtable: AirtableClient, cache: ReadCache, idempotency: Idempotency, writes: RecordWrites
) -> APIRouter:
    router = APIRouter()
    router.include_router(_tables_router(airtable, cache, idempotency))
    router.include_router(_records_router(airtable, cache, writes))
    return router


def create_app() -> FastAPI:
    config = Config.from_env()
    # Short socket timeouts: a hanging Redis must cost a read a second at most, not stall it.
    redis = redis_client.connect(config.redis_url, socket_timeout=1.0, connect_timeout=1.0)
    # A pause Airtable asks for that is longer than a request may back off is answered at once.
    limiter = RateLimiter(config.rate_limit_per_second, max_pause=config.max_retry_wait_seconds)
    airtable = AirtableClient(config, limiter)
    cache = ReadCache(redis, config.cache_ttl_seconds)
    writes = RecordWrites(airtable, WriteBatcher(config.write_batch_window_ms / 1000, airtable.reserve))

    POOL_CONNECTIONS.labels("in_use").set_function(lambda: airtable.pool_connections()["in_use"])
    POOL_CONNECTIONS.labels("idle").set_function(lambda: airtable.pool_connections()["idle"])
    POOL_CONNECTIONS_LIMIT.set(config.max_connections)
    RATE_LIMIT_WINDOW.set_function(limiter.widest_window)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            await airtable.aclose()
            await redis.aclose()

    app = FastAPI(title=SERVICE, version=airscope.__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(RequestDeadline, seconds=config.request_deadline_seconds, code="airtable_deadline")
    app.include_router(build_router(airtable, cache, Idempotency(redis), writes))
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
